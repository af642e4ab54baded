"""One-shot reminders are released from the NotificationDue prepared at intake: the dispatcher
gets the same notification, on the same partition, as when it is built from the record (which
is what happens for state that has no prepared form), and nothing of it stays in Redis."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from redis.asyncio import Redis
from scheduler.conftest import read_all, reminder
from scheduler.test_model import HandClock, model
from scheduler.test_reminder import ms

from herald import topics
from herald.v1 import common_pb2, notifications_pb2, reminders_pb2
from herald_scheduler.publisher import BatchProducer
from herald_scheduler.settings import SchedulerSettings


def expected_due(
    message: reminders_pb2.ReminderScheduled, *, expires_ms: int, released_ms: int
) -> notifications_pb2.NotificationDue:
    due = notifications_pb2.NotificationDue(
        notification_id=f"{message.reminder_id}@{message.fire_at.ToMilliseconds()}",
        reminder_id=message.reminder_id,
        user_id=message.user_id,
        content=message.content,
        collapse_key=message.collapse_key,
        urgency=message.urgency,
    )
    due.occurrence_at.CopyFrom(message.fire_at)
    due.expires_at.FromMilliseconds(expires_ms)
    due.occurred_at.FromMilliseconds(released_ms)
    return due


async def test_prepared_and_record_built_notifications_are_the_same_and_leave_nothing_behind(
    scheduler_settings: SchedulerSettings,
    redis: Redis,
    batch_producer: BatchProducer,
    bootstrap: str,
    namespace: str,
) -> None:
    fire_at = ms("2026-08-01T10:00:00+00:00")
    clock = HandClock(fire_at - 60_000)
    m = await model(scheduler_settings, redis, batch_producer, clock)
    messages = []
    for n, user in enumerate(["user-ü", "user-2", "user-3"]):
        message = reminder(
            f"r{n}",
            fire_at,
            user_id=user,
            collapse_key=f"c{n}",
            urgency=common_pb2.URGENCY_HIGH,
            occurrence_ttl_s=600,
        )
        message.expires_at.FromMilliseconds(fire_at + 3_600_000)
        messages.append(message)
        await m.schedule(message)
    await m.schedule(reminder("daily", fire_at, rrule="FREQ=DAILY;COUNT=2"))
    keys = m.shard.store.keys
    assert sorted(await redis.hkeys(keys.prepared)) == [b"r0", b"r1", b"r2"]
    # State written before prepared forms existed: r1 is built from its record.
    await redis.hdel(keys.prepared, "r1")

    clock.now = fire_at + 7
    assert await m.releaser.release_due() == 4

    raws = await read_all(bootstrap, namespace, topics.NOTIFICATIONS_DUE, 4, timeout_s=10)
    dues = {
        due.reminder_id: (raw.partition, due)
        for raw in raws
        for due in [notifications_pb2.NotificationDue.FromString(raw.value)]
    }
    assert sorted(dues) == ["daily", "r0", "r1", "r2"]
    all_partitions = list(range(topics.NOTIFICATIONS_DUE.partitions))
    event_ids = set()
    for message in messages:
        partition, due = dues[message.reminder_id]
        event_ids.add(due.event_id)
        assert len(due.event_id) == 32
        due.ClearField("event_id")
        assert due == expected_due(message, expires_ms=fire_at + 600_000, released_ms=clock.now)
        user_key = message.user_id.encode()
        assert partition == DefaultPartitioner()(user_key, all_partitions, all_partitions)
    assert len(event_ids) == 3
    # Retired: the one-shots are gone from Redis, the recurring one is armed for tomorrow.
    assert await redis.hlen(keys.prepared) == 0
    assert await redis.hkeys(keys.record) == [b"daily"]
    assert await redis.zrange(keys.due, 0, -1, withscores=True) == [
        (b"daily", float(fire_at + 24 * 3600 * 1000))
    ]
