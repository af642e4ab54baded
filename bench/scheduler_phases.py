"""Driving one scheduler process from outside: publishing reminders, waiting until it has taken
them in (its group committed everything and Redis holds them), and reading back when it
released each one (the NotificationDue record's timestamp, set by its producer at publish)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from redis.asyncio import Redis

from bench.common import BOOTSTRAP, HOST
from herald import topics
from herald.producer import Producer
from herald.v1 import common_pb2, notifications_pb2, reminders_pb2
from herald_scheduler.settings import SchedulerSettings


def start_scheduler(
    namespace: str, redis_url: str, port: int, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HERALD_KAFKA_BOOTSTRAP": BOOTSTRAP,
        "HERALD_TOPIC_NAMESPACE": namespace,
        "HERALD_REDIS_URL": redis_url,
        "HERALD_HEALTH_PORT": str(port),
        "HERALD_LOG_LEVEL": "WARNING",
    }
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "herald_scheduler"], env=env, stderr=out)


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


async def pending(redis: Redis, namespace: str) -> int:
    """Reminders the scheduler holds (due or leased) in this namespace's shards."""
    total = 0
    for kind in ("due", "lease"):
        pattern = f"herald:scheduler:{{{namespace}*:{kind}"
        async for key in redis.scan_iter(match=pattern, count=1000):
            total += int(await redis.zcard(key))
    return total


async def wait_pending(
    redis: Redis, namespace: str, done: Callable[[int], bool], timeout_s: float, what: str
) -> float:
    """Poll until ``done(pending)``; returns the monotonic time it became true."""
    deadline = time.monotonic() + timeout_s
    while True:
        count = await pending(redis, namespace)
        if done(count):
            return time.monotonic()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: gave up after {timeout_s} s with {count} pending")
        await asyncio.sleep(0.05)


async def wait_caught_up(namespace: str, timeout_s: float, what: str) -> float:
    """Poll until the scheduler's group committed every record of the reminders topic."""
    topic = namespace + topics.REMINDERS.name
    tps = [TopicPartition(topic, p) for p in range(topics.REMINDERS.partitions)]
    group = SchedulerSettings(topic_namespace=namespace).consumer_group
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            ends = await consumer.end_offsets(tps)
            committed = await admin.list_consumer_group_offsets(group)
            if all(tp in committed and committed[tp].offset >= ends[tp] for tp in tps):
                return time.monotonic()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: the scheduler did not catch up in {timeout_s} s")
            await asyncio.sleep(0.05)
    finally:
        await consumer.stop()
        await admin.close()


async def publish(producer: Producer, prefix: str, fire_at_ms: Sequence[int]) -> float:
    """Publish one reminder per fire time; returns the seconds it took."""
    started = time.perf_counter()
    futures = []
    for n, at in enumerate(fire_at_ms):
        rid = f"{prefix}-{n}"
        message = reminders_pb2.ReminderScheduled(
            event_id=uuid.uuid4().hex,
            reminder_id=rid,
            user_id=f"user-{n % 50_000}",
            content=common_pb2.NotificationContent(title="Reminder", body=rid),
        )
        message.fire_at.FromMilliseconds(at)
        futures.append(await producer.send(topics.REMINDERS, rid, message))
        if len(futures) >= 10_000:
            await asyncio.gather(*futures)
            futures.clear()
    await asyncio.gather(*futures)
    return time.perf_counter() - started


async def end_positions(namespace: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP)
    await consumer.start()
    try:
        tps = [
            TopicPartition(namespace + topics.NOTIFICATIONS_DUE.name, p)
            for p in range(topics.NOTIFICATIONS_DUE.partitions)
        ]
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def released_since(
    positions: dict[TopicPartition, int], count: int, timeout_s: float = 120
) -> list[tuple[int, int]]:
    """(publish time, occurrence) in ms of the NotificationDue records after ``positions``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=BOOTSTRAP,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        consumer.assign(list(positions))
        for tp, offset in positions.items():
            consumer.seek(tp, offset)
        found: list[tuple[int, int]] = []
        deadline = time.monotonic() + timeout_s
        while len(found) < count and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500, max_records=20_000)).values():
                for raw in batch:
                    due = notifications_pb2.NotificationDue.FromString(raw.value)
                    found.append((raw.timestamp, due.occurrence_at.ToMilliseconds()))
        return found
    finally:
        await consumer.stop()
