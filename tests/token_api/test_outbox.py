"""The outbox and its relay: every change of a user's target set reaches herald.tokens.v1 as the
user's complete set, in commit order, with a tombstone when the set is empty, and nothing is lost
while Kafka is away or the relay restarts."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from token_api.support import (
    Client,
    as_user,
    drained,
    fcm_token,
    latest_sets,
    make_settings,
    outbox_rows,
    running,
    token_sets,
)

from herald import topics
from herald.v1 import common_pb2, tokens_pb2
from herald_token_api.db import Pool
from herald_token_api.relay import BUSY_LINGER_S, IDLE_GRACE_S

FID = "fAbCdEfGhIjKlMnOpQrStU"


def values(token_set: tokens_pb2.TokenSet | None) -> list[str]:
    return [] if token_set is None else [t.target.value for t in token_set.tokens]


def by_user(records: list[Any], user: str) -> list[tokens_pb2.TokenSet | None]:
    return [
        None if r.value is None else tokens_pb2.TokenSet.FromString(r.value)
        for r in records
        if r.key == user.encode()
    ]


async def test_each_change_is_published_as_the_whole_set_then_a_tombstone(
    api: Client, pool: Pool, bootstrap: str, namespace: str
) -> None:
    alice = as_user("alice")
    first = await api.put(
        "/v1/targets",
        json={
            "fid": FID,
            "project_id": "herald-dev",
            "platform": "android",
            "device_label": "Pixel",
        },
        headers=alice,
    )
    await api.put("/v1/targets", json={"token": fcm_token(2)}, headers=alice)
    await api.delete(f"/v1/targets/{(await first.json())['target']['id']}", headers=alice)
    await api.delete("/v1/targets", headers=alice)
    await drained(pool)

    records = await token_sets(bootstrap, namespace)
    sets = by_user(records, "alice")
    assert [values(s) for s in sets] == [[FID], [FID, fcm_token(2)], [fcm_token(2)], []]
    assert sets[-1] is None, "an empty set is a tombstone"
    versions = [s.version for s in sets if s is not None]
    assert versions == sorted(set(versions))
    entry = sets[0].tokens[0] if sets[0] is not None else None
    assert entry is not None
    assert entry.target == common_pb2.Target(
        kind=common_pb2.TARGET_KIND_FID, value=FID, project_id="herald-dev"
    )
    assert (entry.platform, entry.device_label) == (common_pb2.PLATFORM_ANDROID, "Pixel")
    assert entry.created_at.seconds > 0
    assert entry.last_seen_at.seconds > 0
    headers = {k: bytes(v) for k, v in records[0].headers}
    assert headers[topics.HEADER_TYPE] == b"herald.v1.TokenSet"
    assert headers[topics.HEADER_TRACE_ID]


async def test_the_relay_wakes_on_notify_rather_than_its_poll(
    database_url: str, pool: Pool, bootstrap: str, namespace: str
) -> None:
    settings = make_settings(
        database_url, kafka_bootstrap=bootstrap, topic_namespace=namespace, relay_poll_interval_s=60
    )
    async with running(settings) as client:
        await client.put("/v1/targets", json={"token": fcm_token(1)}, headers=as_user("alice"))
        await drained(pool, timeout_s=10)
        # Quiet for long enough that the relay stops polling and waits for a NOTIFY.
        await asyncio.sleep(BUSY_LINGER_S + IDLE_GRACE_S + 0.3)
        await client.put("/v1/targets", json={"token": fcm_token(2)}, headers=as_user("alice"))
        await drained(pool, timeout_s=5)
    assert len(await token_sets(bootstrap, namespace)) == 2


async def test_50_concurrent_changes_for_one_user_end_with_the_set_in_the_table(
    api: Client, pool: Pool, bootstrap: str, namespace: str
) -> None:
    alice = as_user("alice")
    rng = random.Random(4)

    async def change(n: int) -> int:
        roll = rng.random()
        if roll < 0.5:
            body = {"token": fcm_token(n % 12), "device_label": f"label {n}"}
            response = await api.put("/v1/targets", json=body, headers=alice)
        elif roll < 0.8:
            old, new = fcm_token(rng.randrange(12)), fcm_token(rng.randrange(12, 20))
            response = await api.post(
                "/v1/targets/refresh",
                json={"old": {"token": old}, "new": {"token": new}},
                headers=alice,
            )
        else:
            listed = await (await api.get("/v1/targets", headers=alice)).json()
            ids = [t["id"] for t in listed["targets"]] or ["0" * 32]
            response = await api.delete(f"/v1/targets/{rng.choice(ids)}", headers=alice)
        return response.status

    statuses = await asyncio.gather(*(change(n) for n in range(50)))
    assert all(s < 500 for s in statuses)
    await drained(pool)

    rows = await pool.fetch(
        "SELECT target, platform, device_label FROM push_tokens WHERE user_id = 'alice'"
    )
    table = sorted((r["target"], r["device_label"]) for r in rows)
    records = await token_sets(bootstrap, namespace)
    last = latest_sets(records)["alice"]
    published = (
        [] if last is None else sorted((t.target.value, t.device_label) for t in last.tokens)
    )
    assert published == table
    versions = [s.version for s in by_user(records, "alice") if s is not None]
    assert versions == sorted(versions), "published in commit order"


async def test_changes_made_while_kafka_is_down_are_all_published_once_it_is_back(
    database_url: str, pool: Pool, bootstrap: str, namespace: str
) -> None:
    """Kafka is shared by everyone testing on this machine, so it is not stopped: instead the
    second instance of the app runs against a Kafka address where nothing listens. Its changes
    wait in the outbox (none is lost when it shuts down), and the relay of a third instance,
    against the real Kafka, publishes every one of them after the change published before."""
    online = make_settings(database_url, kafka_bootstrap=bootstrap, topic_namespace=namespace)
    async with running(online) as client:
        await client.put("/v1/targets", json={"token": fcm_token(1)}, headers=as_user("alice"))
        await drained(pool)

    async with running(make_settings(database_url, topic_namespace=namespace)) as client:
        for n in (2, 3):
            await client.put("/v1/targets", json={"token": fcm_token(n)}, headers=as_user("alice"))
        await client.put("/v1/targets", json={"token": fcm_token(4)}, headers=as_user("bob"))
        listed = await (await client.get("/v1/targets", headers=as_user("alice"))).json()
        second = next(t["id"] for t in listed["targets"] if t["masked"].endswith("xxxx"))
        await client.delete(f"/v1/targets/{second}", headers=as_user("alice"))
        await asyncio.sleep(1.0)
        assert await outbox_rows(pool) == 4
    assert await outbox_rows(pool) == 4
    assert len(await token_sets(bootstrap, namespace)) == 1

    async with running(online):
        await drained(pool)
    records = await token_sets(bootstrap, namespace)
    alice = by_user(records, "alice")
    assert [len(values(s)) for s in alice] == [1, 2, 3, 2]
    assert [values(s) for s in by_user(records, "bob")] == [[fcm_token(4)]]
    assert [s.version for s in alice if s] == sorted(s.version for s in alice if s)


async def test_one_replica_relays_and_another_takes_over_when_it_stops(
    database_url: str, pool: Pool, bootstrap: str, namespace: str
) -> None:
    settings = make_settings(database_url, kafka_bootstrap=bootstrap, topic_namespace=namespace)
    async with running(settings) as first:
        await first.put("/v1/targets", json={"token": fcm_token(1)}, headers=as_user("alice"))
        await drained(pool)
        async with running(settings) as second:
            await first.close()
            await second.put("/v1/targets", json={"token": fcm_token(2)}, headers=as_user("alice"))
            await drained(pool)
    sets = by_user(await token_sets(bootstrap, namespace), "alice")
    assert [values(s) for s in sets] == [[fcm_token(1)], [fcm_token(1), fcm_token(2)]]


async def test_users_racing_for_one_target_end_with_one_owner_in_table_and_topic(
    api: Client, pool: Pool, bootstrap: str, namespace: str
) -> None:
    users = ["alice", "bob", "carol"]
    responses = await asyncio.gather(
        *(
            api.put("/v1/targets", json={"token": fcm_token(1)}, headers=as_user(users[n % 3]))
            for n in range(30)
        )
    )
    assert {r.status for r in responses} <= {200, 201}
    owner = await pool.fetchval("SELECT user_id FROM push_tokens WHERE target = $1", fcm_token(1))
    await drained(pool)
    latest = latest_sets(await token_sets(bootstrap, namespace))
    assert {user: values(latest.get(user)) for user in users} == {
        user: [fcm_token(1)] if user == owner else [] for user in users
    }
