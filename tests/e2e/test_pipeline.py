"""The pipeline without a browser: many users and targets, reminders spread over seconds, every
send checked at the FCM emulator and against the delivery reports; a dead target removed."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from e2e.support import targets_of, until
from redis.asyncio import Redis

from fcm_emulator.client import EmulatorClient
from fcm_emulator.records import ReceivedMessage
from herald import topics
from herald.v1 import deliveries_pb2, tokens_pb2
from herald_dev import deliveries
from herald_dev.api import TokenApi
from herald_dev.kafka_read import read_range
from herald_dev.stack import Stack
from herald_dispatcher.keys import Keys

USERS = 200
TARGETS_PER_USER = 2
SPREAD_S = 10.0
LEAD_S = 2.0
CONCURRENCY = 32


async def gather_bounded(calls: list[Any]) -> list[Any]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(call: Any) -> Any:
        async with gate:
            return await call

    return await asyncio.gather(*(one(c) for c in calls))


PROJECTION_TIMEOUT_S = 30


def sent_to(messages: list[ReceivedMessage], wanted: set[str]) -> list[ReceivedMessage]:
    return [m for m in messages if m.target in wanted and m.status == 200]


async def test_every_target_gets_each_reminder_once_and_never_early(
    stack: Stack, emulator: EmulatorClient, api: TokenApi
) -> None:
    config = stack.config
    started_ms = int(time.time() * 1000)
    run = secrets.token_hex(3)
    users = [f"load-{run}-{i}" for i in range(USERS)]
    issued = await gather_bounded(
        [emulator.issue_target(config.project_id) for _ in range(USERS * TARGETS_PER_USER)]
    )
    targets = {
        user: [t.target for t in issued[i * TARGETS_PER_USER : (i + 1) * TARGETS_PER_USER]]
        for i, user in enumerate(users)
    }
    owner = {target: user for user, mine in targets.items() for target in mine}
    await gather_bounded(
        [
            api.register(stack.credentials.user_jwt(user), target, project_id=config.project_id)
            for user, mine in targets.items()
            for target in mine
        ]
    )

    await stack.wait_projected(users, PROJECTION_TIMEOUT_S)

    first = datetime.now(UTC) + timedelta(seconds=LEAD_S)
    fire_at = {
        user: first + timedelta(seconds=SPREAD_S * i / USERS) for i, user in enumerate(users)
    }
    reminder_of = {user: f"load-{run}-{i}" for i, user in enumerate(users)}
    await gather_bounded(
        [
            api.schedule(
                user,
                {"title": "Load", "body": user, "data": {"reminder": reminder_of[user]}},
                fire_at[user],
                fire_at[user] + timedelta(minutes=10),
                reminder_id=reminder_of[user],
            )
            for user in users
        ]
    )

    expected = USERS * TARGETS_PER_USER

    async def accepted() -> list[ReceivedMessage]:
        return sent_to(await emulator.messages(), set(owner))

    await until(accepted, lambda found: len(found) >= expected, LEAD_S + SPREAD_S + 30, "sends")
    await asyncio.sleep(2.0)
    sends = await accepted()

    received: dict[str, list[str]] = defaultdict(list)
    for send in sends:
        assert send.target is not None
        user = owner[send.target]
        received[send.target].append(send.message["data"]["reminder"])
        assert send.received_at >= fire_at[user].timestamp(), f"{user}'s reminder came early"
    assert dict(received) == {target: [reminder_of[owner[target]]] for target in owner}

    def sent_reports(records: list[Any]) -> list[deliveries_pb2.DeliveryReport]:
        found = [deliveries.decode(r) for r in records]
        return [
            r
            for r in found
            if r is not None
            and r.user_id in targets
            and r.status == deliveries_pb2.DELIVERY_STATUS_SENT
        ]

    async def reports() -> list[deliveries_pb2.DeliveryReport]:
        records = await read_range(
            config.kafka_bootstrap, config.namespace + topics.DELIVERIES.name, started_ms
        )
        return sent_reports(records)

    found = await until(reports, lambda r: len(r) >= expected, 20, "delivery reports")
    assert len(found) == len(sends)
    assert Counter(r.target.value for r in found) == Counter(s.target for s in sends)


async def test_a_target_fcm_calls_unregistered_leaves_the_table(
    stack: Stack, emulator: EmulatorClient, api: TokenApi
) -> None:
    config = stack.config
    user = f"gone-{secrets.token_hex(4)}"
    dead, alive = [
        (await emulator.issue_target(config.project_id)).target for _ in range(TARGETS_PER_USER)
    ]
    jwt = stack.credentials.user_jwt(user)
    for target in (dead, alive):
        await api.register(jwt, target, project_id=config.project_id)
    assert await targets_of(config.database_url, user) == sorted([dead, alive])

    async def projected_targets() -> set[str]:
        # The first registration's set may be projected before the second's: wait for both.
        redis = Redis.from_url(config.dispatcher_redis_url)
        try:
            raw = await redis.hget(Keys(config.namespace).targets(user), "s")
        finally:
            await redis.aclose()
        token_set = tokens_pb2.TokenSet.FromString(raw if isinstance(raw, bytes) else b"")
        return {entry.target.value for entry in token_set.tokens}

    await until(projected_targets, lambda found: found == {dead, alive}, 30, "both targets")
    await emulator.unregister_target(dead)
    await api.send_now(user, {"title": "Still there?"})

    async def remaining() -> list[str]:
        return await targets_of(config.database_url, user)

    await until(remaining, lambda found: found == [alive], 10, "the dead target removed")
    sends = await emulator.messages(target=dead)
    assert [s.error_code for s in sends] == ["UNREGISTERED"]

    async def alive_sends() -> list[int]:
        return [s.status for s in await emulator.messages(target=alive)]

    # Both sends of the notification run concurrently: the live one may be recorded after the
    # dead target is already gone from the table.
    await until(alive_sends, lambda found: found == [200], 10, "the live target's send")
