"""One-shot reminders through a running scheduler: released once, never early, cancellable,
reschedulable, duplicates absorbed, hand-backs from the dispatcher."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from scheduler.conftest import (
    StartScheduler,
    released,
    reminder,
    reminder_tombstones,
    schedule,
)

from herald import topics
from herald.producer import Producer
from herald.v1 import common_pb2, reminders_pb2
from kit.kafka import committed_offsets


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def test_a_one_shot_reminder_is_released_once_at_its_fire_time_then_tombstoned(
    bootstrap: str, namespace: str, producer: Producer, start_scheduler: StartScheduler
) -> None:
    run = await start_scheduler()
    fire_at = now_ms() + 1500
    await schedule(producer, reminder("rem-1", fire_at, collapse_key="standup"))

    (due,) = await released(bootstrap, namespace, 1)
    assert due.notification.notification_id == f"rem-1@{fire_at}"
    assert due.notification.reminder_id == "rem-1"
    assert due.notification.user_id == "user-1"
    assert due.notification.collapse_key == "standup"
    assert due.occurrence_ms == fire_at
    assert due.published_ms >= fire_at, "released before its fire time"
    assert await reminder_tombstones(bootstrap, namespace, 2) == ["rem-1"]

    async def committed() -> int:
        offsets = await committed_offsets(
            bootstrap, run.scheduler.settings.consumer_group, namespace + topics.REMINDERS.name
        )
        return sum(offsets.values())

    for _ in range(100):
        if await committed() == 2:
            break
        await asyncio.sleep(0.05)
    assert await committed() == 2, "the record and its tombstone are consumed and committed"
    await run.finish()
    assert len(await released(bootstrap, namespace, 2, timeout_s=1)) == 1


async def test_cancel_reschedule_and_duplicates(
    bootstrap: str, namespace: str, producer: Producer, start_scheduler: StartScheduler
) -> None:
    await start_scheduler()
    start = now_ms()
    cancelled = reminder("cancelled", start + 1500)
    moved = reminder("moved", start + 1200)
    twice = reminder("twice", start + 1600)
    await schedule(producer, cancelled, moved, twice, twice)
    await producer.send_and_wait(topics.REMINDERS, "cancelled", None)
    await schedule(producer, reminder("moved", start + 2500))
    await schedule(producer, twice)
    await schedule(producer, reminder("control", start + 3000))

    await released(bootstrap, namespace, 3)
    dues = await released(bootstrap, namespace, 10, timeout_s=1)
    ids = Counter(d.notification.reminder_id for d in dues)
    assert ids == {"moved": 1, "twice": 1, "control": 1}
    by_id = {d.notification.reminder_id: d for d in dues}
    assert by_id["moved"].occurrence_ms == start + 2500
    assert by_id["moved"].published_ms >= start + 2500
    assert by_id["twice"].published_ms >= start + 1600


async def test_a_hand_back_from_the_dispatcher_is_released_once_as_that_notification(
    bootstrap: str, namespace: str, producer: Producer, start_scheduler: StartScheduler
) -> None:
    await start_scheduler()
    fire_at = now_ms() + 1000
    target = common_pb2.Target(kind=common_pb2.TARGET_KIND_FID, value="fid-1")
    retry = reminder(
        "rem-7",
        fire_at,
        retry=reminders_pb2.DeliveryRetry(
            notification_id="rem-7@1700000000000", attempts=3, targets=[target]
        ),
    )
    retry.retry.occurrence_at.FromMilliseconds(1_700_000_000_000)
    await producer.send_and_wait(topics.REMINDERS, "retry:rem-7@1700000000000", retry)

    (due,) = await released(bootstrap, namespace, 1)
    assert due.notification.notification_id == "rem-7@1700000000000"
    assert due.occurrence_ms == 1_700_000_000_000
    assert due.notification.attempts == 3
    assert list(due.notification.targets) == [target]
    assert due.published_ms >= fire_at
    assert await reminder_tombstones(bootstrap, namespace, 2) == ["retry:rem-7@1700000000000"]
    assert len(await released(bootstrap, namespace, 2, timeout_s=1)) == 1


async def test_an_earlier_reminder_wakes_a_sleeping_shard_at_once(
    bootstrap: str, namespace: str, producer: Producer, start_scheduler: StartScheduler
) -> None:
    # Idle shards would sleep a minute; the new reminder must not wait for that.
    await start_scheduler(idle_check_ms=60_000)
    await asyncio.sleep(2)
    fire_at = now_ms() + 800
    await schedule(producer, reminder("soon", fire_at))

    (due,) = await released(bootstrap, namespace, 1, timeout_s=10)
    assert fire_at <= due.published_ms < fire_at + 5000
