"""A shard driven step by step with a clock the test sets: releases happen at the right
instants and never before, expiry is reported, and a later owner fences an earlier one."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis
from scheduler.conftest import read_all, released, reminder, reminder_tombstones
from scheduler.test_reminder import ms

from herald import topics
from herald.v1 import deliveries_pb2, reminders_pb2
from herald_scheduler.batching import ScriptBatcher
from herald_scheduler.publisher import BatchProducer
from herald_scheduler.release import Releaser
from herald_scheduler.reminder import DAY_MS, parse
from herald_scheduler.settings import SchedulerSettings
from herald_scheduler.shard import Shard
from herald_scheduler.store import SCRIPTS, Fenced


@dataclass
class HandClock:
    now: int

    def now_ms(self) -> int:
        return self.now


@dataclass
class Model:
    shard: Shard
    releaser: Releaser
    clock: HandClock
    offset: int = 0

    async def schedule(self, message: reminders_pb2.ReminderScheduled) -> None:
        parsed = parse(
            message.reminder_id, message, received_ms=self.clock.now, horizon_ms=400 * DAY_MS
        )
        await self.shard.scheduled(
            parsed, message.SerializeToString(deterministic=True), self.offset
        )
        self.offset += 1


async def model(
    settings: SchedulerSettings, redis: Redis, producer: BatchProducer, clock: HandClock
) -> Model:
    scripts = ScriptBatcher(redis, SCRIPTS)
    shard = Shard(0, scripts=scripts, producer=producer, settings=settings, clock=clock)
    await shard.open(committed=None)
    return Model(shard, Releaser(shard, producer=producer, settings=settings, clock=clock), clock)


async def test_daily_at_nine_in_berlin_across_the_dst_change_fires_three_times_at_nine(
    scheduler_settings: SchedulerSettings,
    redis: Redis,
    batch_producer: BatchProducer,
    bootstrap: str,
    namespace: str,
) -> None:
    clock = HandClock(ms("2026-03-27T12:00:00+01:00"))
    m = await model(scheduler_settings, redis, batch_producer, clock)
    await m.schedule(
        reminder(
            "standup",
            ms("2026-03-28T09:00:00+01:00"),
            rrule="FREQ=DAILY;COUNT=3",
            time_zone="Europe/Berlin",
        )
    )
    nine_in_berlin = [
        ms("2026-03-28T08:00:00+00:00"),
        ms("2026-03-29T07:00:00+00:00"),
        ms("2026-03-30T07:00:00+00:00"),
    ]
    for instant in nine_in_berlin:
        clock.now = instant - 1
        assert await m.releaser.release_due() == 0, "released before its fire time"
        clock.now = instant
        assert await m.releaser.release_due() == 1
    clock.now += 7 * DAY_MS
    assert await m.releaser.release_due() == 0

    dues = await released(bootstrap, namespace, 4, timeout_s=1.5)
    assert sorted(d.occurrence_ms for d in dues) == nine_in_berlin
    assert sorted(d.notification.notification_id for d in dues) == [
        f"standup@{instant}" for instant in nine_in_berlin
    ]
    assert await reminder_tombstones(bootstrap, namespace, 1) == ["standup"]


async def test_an_expired_reminder_is_reported_not_released(
    scheduler_settings: SchedulerSettings,
    redis: Redis,
    batch_producer: BatchProducer,
    bootstrap: str,
    namespace: str,
) -> None:
    fire_at = ms("2026-05-01T10:00:00+00:00")
    clock = HandClock(fire_at - 60_000)
    m = await model(scheduler_settings, redis, batch_producer, clock)
    late = reminder("late", fire_at)
    late.expires_at.FromMilliseconds(fire_at + 5_000)
    await m.schedule(late)
    await m.schedule(reminder("fine", fire_at + 10_000))
    clock.now = fire_at + 20_000
    assert await m.releaser.release_due() == 2

    dues = await released(bootstrap, namespace, 2, timeout_s=1.5)
    assert [d.notification.reminder_id for d in dues] == ["fine"]
    (raw,) = await read_all(bootstrap, namespace, topics.DELIVERIES, 1, timeout_s=10)
    report = deliveries_pb2.DeliveryReport.FromString(raw.value)
    assert report.status == deliveries_pb2.DELIVERY_STATUS_EXPIRED
    assert report.notification_id == f"late@{fire_at}"
    assert report.latency_ms == 20_000
    assert sorted(await reminder_tombstones(bootstrap, namespace, 2)) == ["fine", "late"]


async def test_a_later_owner_fences_the_earlier_one_out(
    scheduler_settings: SchedulerSettings,
    redis: Redis,
    batch_producer: BatchProducer,
    bootstrap: str,
    namespace: str,
) -> None:
    fire_at = ms("2026-06-01T10:00:00+00:00")
    clock = HandClock(fire_at - 1000)
    first = await model(scheduler_settings, redis, batch_producer, clock)
    for n in range(30):
        await first.schedule(reminder(f"r{n}", fire_at + n))
    clock.now = fire_at + 9
    assert await first.releaser.release_due() == 10

    second = await model(scheduler_settings, redis, batch_producer, clock)
    second.offset = first.offset
    assert second.shard.epoch > first.shard.epoch
    clock.now = fire_at + 100
    with pytest.raises(Fenced):
        await first.releaser.release_due()
    with pytest.raises(Fenced):
        await first.schedule(reminder("r-late", fire_at))
    assert await second.releaser.release_due() == 20

    dues = await released(bootstrap, namespace, 31, timeout_s=1.5)
    ids = Counter(d.notification.reminder_id for d in dues)
    assert ids == Counter({f"r{n}": 1 for n in range(30)})


async def test_a_reschedule_racing_the_release_survives_the_scheduler_s_tombstone(
    scheduler_settings: SchedulerSettings,
    redis: Redis,
    batch_producer: BatchProducer,
    bootstrap: str,
    namespace: str,
) -> None:
    fire_at = ms("2026-07-01T10:00:00+00:00")
    clock = HandClock(fire_at - 1000)
    m = await model(scheduler_settings, redis, batch_producer, clock)
    await m.schedule(reminder("snooze", fire_at))
    clock.now = fire_at
    published = await m.releaser.publish((await m.releaser.take()).taken)
    # The user snoozes while the first release is still being retired.
    snoozed = reminder("snooze", fire_at + 600_000)
    await m.schedule(snoozed)
    await m.releaser.retire(published)
    own = m.shard.tombstones["snooze"]
    assert own.offset is not None
    await m.shard.cancelled("snooze", own.offset)

    records = await read_all(bootstrap, namespace, topics.REMINDERS, 2, timeout_s=10)
    assert [r.value is None for r in records] == [True, False], "tombstone, then the snooze"
    assert reminders_pb2.ReminderScheduled.FromString(records[1].value) == snoozed
    clock.now = fire_at + 600_000 - 1
    assert await m.releaser.release_due() == 0
    clock.now = fire_at + 600_000
    assert await m.releaser.release_due() == 1
