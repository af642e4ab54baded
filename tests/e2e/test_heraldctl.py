"""``heraldctl`` against the running stack, as an operator uses it."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from e2e.support import until
from google.protobuf.timestamp_pb2 import Timestamp

from fcm_emulator.client import EmulatorClient
from herald import topics
from herald.producer import Producer
from herald.v1 import common_pb2, notifications_pb2
from herald_dev import ctl
from herald_dev.api import TokenApi, target_id
from herald_dev.stack import Stack


async def heraldctl(stack: Stack, capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    """Run heraldctl against ``stack``; returns its output lines (fails on a non-zero exit)."""
    config = stack.config
    common = [
        f"--api={config.api_url}",
        f"--bootstrap={config.kafka_bootstrap}",
        f"--namespace={config.namespace}",
        f"--scheduler-redis-url={config.scheduler_redis_url}",
        f"--state-dir={config.state.root}",
    ]
    capsys.readouterr()
    code = await ctl.run(ctl.parse_args([*common, *argv]))
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out.splitlines()


def rows(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


async def registered_user(stack: Stack, emulator: EmulatorClient, api: TokenApi) -> tuple[str, str]:
    user = f"ops-{secrets.token_hex(4)}"
    target = (await emulator.issue_target(stack.config.project_id)).target
    await api.register(stack.credentials.user_jwt(user), target, project_id=stack.config.project_id)
    return user, target


async def test_schedule_shows_in_pending_until_cancelled(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    user = f"ops-{secrets.token_hex(4)}"
    (line,) = await heraldctl(
        stack, capsys, "schedule", f"--user={user}", "--title=Stand-up", "--in=2h"
    )
    reminder_id = line.split()[1]
    assert line.startswith(f"scheduled {reminder_id} for {user} at ")

    async def waiting() -> list[dict[str, Any]]:
        return rows(await heraldctl(stack, capsys, "pending", f"--user={user}", "--json"))

    (found,) = await until(waiting, bool, 10, "the reminder in the scheduler")
    assert found["reminder_id"] == reminder_id
    assert found["title"] == "Stand-up"
    fire_at = datetime.fromisoformat(found["fire_at"])
    assert timedelta(minutes=119) < fire_at - datetime.now(UTC) <= timedelta(hours=2)

    assert await heraldctl(stack, capsys, "cancel", reminder_id) == [f"cancelled {reminder_id}"]
    await until(waiting, lambda found: found == [], 10, "the cancelled reminder gone")


async def test_send_now_reaches_the_target_listed_for_the_user(
    stack: Stack,
    capsys: pytest.CaptureFixture[str],
    emulator: EmulatorClient,
    api: TokenApi,
) -> None:
    user, target = await registered_user(stack, emulator, api)
    (via_api,) = rows(await heraldctl(stack, capsys, "targets", user, "--json"))
    (via_db,) = rows(
        await heraldctl(
            stack,
            capsys,
            "targets",
            user,
            "--from-db",
            f"--database-url={stack.config.database_url}",
            "--json",
        )
    )
    assert via_api["id"] == via_db["id"] == target_id(target)
    assert target not in json.dumps([via_api, via_db])

    (line,) = await heraldctl(stack, capsys, "send-now", f"--user={user}", "--title=Now")
    assert line.startswith("sent ")
    assert line.endswith(f" to {user}")
    tail = heraldctl(
        stack, capsys, "deliveries", f"--user={user}", "--from-beginning", "--count=1", "--json"
    )
    (report,) = rows(await asyncio.wait_for(tail, 20))
    assert report["status"] == "sent"
    assert report["target"] == via_api["masked"]
    (send,) = await emulator.messages(target=target)
    assert send.message["webpush"]["notification"]["title"] == "Now"


async def test_dlq_replay_puts_a_dead_letter_back_on_its_topic(
    stack: Stack,
    capsys: pytest.CaptureFixture[str],
    emulator: EmulatorClient,
    api: TokenApi,
) -> None:
    config = stack.config
    user, target = await registered_user(stack, emulator, api)
    reason = f"test-{secrets.token_hex(3)}"
    now = datetime.now(UTC)
    due = notifications_pb2.NotificationDue(
        event_id=f"ev-{reason}",
        notification_id=f"n-{reason}",
        user_id=user,
        content=common_pb2.NotificationContent(title="Replayed"),
        urgency=common_pb2.URGENCY_HIGH,
    )
    for field, moment in (
        (due.occurred_at, now),
        (due.occurrence_at, now),
        (due.expires_at, now + timedelta(hours=1)),
    ):
        field.CopyFrom(Timestamp(seconds=int(moment.timestamp())))
    source = config.namespace + topics.NOTIFICATIONS_DUE.name
    async with Producer(config.kafka_bootstrap, namespace=config.namespace) as producer:
        await producer.send_raw(
            topics.DLQ,
            user,
            due.SerializeToString(),
            [
                (topics.HEADER_TYPE, due.DESCRIPTOR.full_name.encode()),
                (topics.HEADER_DLQ_REASON, reason.encode()),
                (topics.HEADER_DLQ_TOPIC, source.encode()),
                (topics.HEADER_DLQ_PARTITION, b"0"),
                (topics.HEADER_DLQ_OFFSET, b"7"),
                (topics.HEADER_DLQ_GROUP, b"herald-dispatcher"),
            ],
        )
        await producer.flush()

    (letter,) = rows(await heraldctl(stack, capsys, "dlq", "list", f"--reason={reason}", "--json"))
    assert letter["source_topic"] == source
    assert letter["type"] == "herald.v1.NotificationDue"
    assert await emulator.messages(target=target) == []

    replayed = await heraldctl(stack, capsys, "dlq", "replay", "--all", f"--reason={reason}")
    assert replayed[-1].startswith("replayed 1 dead letters into their source topics")

    async def delivered() -> list[Any]:
        return await emulator.messages(target=target)

    (send,) = await until(delivered, bool, 15, "the replayed notification at the emulator")
    assert send.message["webpush"]["notification"]["title"] == "Replayed"
