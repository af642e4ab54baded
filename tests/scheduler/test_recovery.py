"""A running scheduler facing bad input, recurring reminders in real time, and a Redis that
loses everything."""

from __future__ import annotations

import asyncio
from collections import Counter

from prometheus_client import REGISTRY
from redis.asyncio import Redis
from scheduler.conftest import (
    StartScheduler,
    read_all,
    released,
    reminder,
    reminder_tombstones,
    schedule,
)
from scheduler.test_release import now_ms

from herald import topics
from herald.producer import Producer
from kit.kafka import committed_offsets


async def test_poison_records_go_to_the_dlq_with_their_reason_and_intake_goes_on(
    bootstrap: str, namespace: str, producer: Producer, start_scheduler: StartScheduler
) -> None:
    run = await start_scheduler(horizon_days=30)
    start = now_ms()
    type_header = (topics.HEADER_TYPE, b"herald.v1.ReminderScheduled")
    await (await producer.send_raw(topics.REMINDERS, "garbage", b"\xff\xff\xff", [type_header]))
    await schedule(
        producer,
        reminder("zone", start, time_zone="Europe/Atlantis"),
        reminder("rule", start, rrule="FREQ=SOMETIMES", time_zone="UTC"),
        reminder("far", start + 31 * 24 * 3600 * 1000),
        reminder("nobody", start, user_id=""),
        reminder("good", start + 500),
    )

    (due,) = await released(bootstrap, namespace, 1)
    assert due.notification.reminder_id == "good"
    dead = await read_all(bootstrap, namespace, topics.DLQ, 5, timeout_s=10)
    reasons = {
        raw.key.decode(): dict(raw.headers)[topics.HEADER_DLQ_REASON].decode() for raw in dead
    }
    assert reasons == {
        "garbage": "undecodable",
        "zone": "unknown-time-zone",
        "rule": "bad-rrule",
        "far": "beyond-horizon",
        "nobody": "missing-user",
    }
    group = run.scheduler.settings.consumer_group
    topic = namespace + topics.REMINDERS.name

    async def all_committed() -> int:
        return sum((await committed_offsets(bootstrap, group, topic)).values())

    # Six records and the tombstone of "good", all committed: the consumer is alive.
    for _ in range(100):
        if await all_committed() == 7:
            break
        await asyncio.sleep(0.1)
    assert await all_committed() == 7


async def test_a_recurring_reminder_fires_each_occurrence_once_then_ends(
    bootstrap: str, namespace: str, producer: Producer, start_scheduler: StartScheduler
) -> None:
    await start_scheduler()
    first = (now_ms() // 1000 + 2) * 1000
    await schedule(
        producer,
        reminder("tick", first, rrule="FREQ=SECONDLY;INTERVAL=1;COUNT=3", time_zone="Asia/Tokyo"),
    )

    dues = await released(bootstrap, namespace, 3)
    assert sorted(d.occurrence_ms for d in dues) == [first, first + 1000, first + 2000]
    assert len({d.notification.notification_id for d in dues}) == 3
    assert all(d.published_ms >= d.occurrence_ms for d in dues)
    assert await reminder_tombstones(bootstrap, namespace, 2) == ["tick"]
    assert len(await released(bootstrap, namespace, 4, timeout_s=1.5)) == 3


def rebuilds() -> float:
    return REGISTRY.get_sample_value("herald_scheduler_rebuilds_total") or 0.0


async def pending(redis: Redis, namespace: str) -> int:
    total = 0
    async for key in redis.scan_iter(match=f"herald:scheduler:{{{namespace}*:due"):
        total += await redis.zcard(key)
    return total


async def test_redis_losing_everything_loses_no_reminder(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    start_scheduler: StartScheduler,
    redis: Redis,
) -> None:
    await start_scheduler()
    start = now_ms()
    fire_at = {f"r{n}": start + 5000 + 2 * n for n in range(1000)}
    await schedule(producer, *(reminder(rid, at) for rid, at in fire_at.items()))
    for _ in range(100):
        if await pending(redis, namespace) == 1000:
            break
        await asyncio.sleep(0.05)
    assert await pending(redis, namespace) == 1000
    rebuilds_before = rebuilds()

    # "FLUSHALL" for this test: the scheduler's tests own DB 1, other suites share the server.
    await redis.flushdb()

    dues = await released(bootstrap, namespace, 1000, timeout_s=30)
    assert Counter(d.notification.reminder_id for d in dues) == Counter(set(fire_at))
    late = [d for d in dues if d.published_ms < fire_at[d.notification.reminder_id]]
    assert not late, "released before fire time"
    assert rebuilds() >= rebuilds_before + 12


async def test_a_reminder_rescheduled_right_after_it_fired_fires_again(
    bootstrap: str, namespace: str, producer: Producer, start_scheduler: StartScheduler
) -> None:
    await start_scheduler()
    start = now_ms()
    await schedule(producer, reminder("snooze", start + 800))
    (first,) = await released(bootstrap, namespace, 1)
    # The product reschedules the reminder right after it fired (a snooze).
    await schedule(producer, reminder("snooze", start + 2500))
    dues = await released(bootstrap, namespace, 2)
    assert [d.occurrence_ms for d in dues] == [start + 800, start + 2500]
    assert first.notification.notification_id != dues[1].notification.notification_id
    assert await reminder_tombstones(bootstrap, namespace, 4) == ["snooze", "snooze"]
