"""Fixtures for the scheduler's tests: Redis DB 1 flushed per test, schedulers run in-process
against the test's own topic namespace, and readers of what they published."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from redis.asyncio import Redis

from herald import topics
from herald.producer import Producer
from herald.v1 import common_pb2, notifications_pb2, reminders_pb2
from herald_scheduler.publisher import BatchProducer
from herald_scheduler.service import Scheduler
from herald_scheduler.settings import SchedulerSettings

# The scheduler's tests own Redis DB 1; other suites use other databases at the same time.
REDIS_URL = "redis://127.0.0.1:63790/1"


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture
async def batch_producer(bootstrap: str, namespace: str) -> AsyncIterator[BatchProducer]:
    producer = BatchProducer(bootstrap, namespace=namespace, client_id="test")
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
def scheduler_settings(bootstrap: str, namespace: str) -> SchedulerSettings:
    return SchedulerSettings(
        kafka_bootstrap=bootstrap,
        topic_namespace=namespace,
        redis_url=REDIS_URL,  # type: ignore[arg-type]
        health_port=0,
        group_id=f"scheduler-{uuid.uuid4().hex[:8]}",
        lease_ms=3000,
        idle_check_ms=200,
        kafka_session_timeout_ms=6000,
        shutdown_grace_s=5,
    )


@dataclass
class Running:
    scheduler: Scheduler
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 20)


StartScheduler = Callable[..., Awaitable[Running]]


@pytest.fixture
async def start_scheduler(
    scheduler_settings: SchedulerSettings, redis: Redis
) -> AsyncIterator[StartScheduler]:
    """Start an in-process scheduler (settings overridable by keyword); stopped after the test."""
    running: list[Running] = []

    async def start(**overrides: Any) -> Running:
        settings = scheduler_settings.model_copy(update=overrides)
        scheduler = Scheduler(settings)
        stop = asyncio.Event()
        run = Running(scheduler, stop, asyncio.create_task(scheduler.run(stop)))
        running.append(run)
        return run

    yield start
    for run in running:
        run.stop.set()
    for run in running:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(run.task, 20)


def reminder(
    reminder_id: str,
    fire_at_ms: int,
    *,
    user_id: str = "user-1",
    rrule: str = "",
    time_zone: str = "",
    **fields: Any,
) -> reminders_pb2.ReminderScheduled:
    message = reminders_pb2.ReminderScheduled(
        event_id=uuid.uuid4().hex,
        reminder_id=reminder_id,
        user_id=user_id,
        content=common_pb2.NotificationContent(title="Reminder", body=reminder_id),
        rrule=rrule,
        time_zone=time_zone,
        **fields,
    )
    message.fire_at.FromMilliseconds(fire_at_ms)
    return message


async def schedule(producer: Producer, *messages: reminders_pb2.ReminderScheduled) -> None:
    futures = [await producer.send(topics.REMINDERS, m.reminder_id, m) for m in messages]
    await asyncio.gather(*futures)


@dataclass(frozen=True)
class Released:
    notification: notifications_pb2.NotificationDue
    # When the scheduler published it (the record's create time).
    published_ms: int

    @property
    def occurrence_ms(self) -> int:
        return self.notification.occurrence_at.ToMilliseconds()


async def released(
    bootstrap: str, namespace: str, count: int, timeout_s: float = 20.0
) -> list[Released]:
    """The NotificationDue records published so far, waiting up to ``timeout_s`` for ``count``."""
    raws = await read_all(bootstrap, namespace, topics.NOTIFICATIONS_DUE, count, timeout_s)
    return [
        Released(notifications_pb2.NotificationDue.FromString(raw.value), raw.timestamp)
        for raw in raws
    ]


async def read_all(
    bootstrap: str, namespace: str, topic: topics.Topic, count: int, timeout_s: float
) -> list[Any]:
    """The first ``count`` records of ``topic`` across its partitions (fewer on timeout).

    Seeks explicitly with ``auto_offset_reset="earliest"``: ``seek_to_beginning`` on a topic
    created moments ago can lose against the default reset to "latest" and skip records."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tps = [TopicPartition(namespace + topic.name, p) for p in range(topic.partitions)]
        consumer.assign(tps)
        for tp, offset in (await consumer.beginning_offsets(tps)).items():
            consumer.seek(tp, offset)
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while len(records) < count and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=100)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def reminder_tombstones(bootstrap: str, namespace: str, count: int) -> list[str]:
    """Keys of the tombstones on the reminders topic."""
    raws = await read_all(bootstrap, namespace, topics.REMINDERS, count, timeout_s=10)
    return [raw.key.decode() for raw in raws if raw.value is None]
