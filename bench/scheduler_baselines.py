"""The scheduler's baselines, measured in the same run: what redis-py does with plain ZADD and
ZPOPMIN (pipelined by 100, as a scheduler would batch), what aiokafka produces a second with
the scheduler's producer settings, and the lateness of the simplest possible scheduler (one
asyncio loop that sleeps until each fire time and produces), which is the floor on this
machine for any Python process under the same load."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from bench.common import BOOTSTRAP, now_ms
from herald import topics
from herald.v1 import common_pb2, notifications_pb2

PIPELINE = 100


@dataclass(frozen=True)
class RedisRates:
    zadd_per_s: float
    zpopmin_per_s: float


async def redis_zset_loop(redis: Redis, key: str, count: int) -> RedisRates:
    started = time.perf_counter()
    for start in range(0, count, PIPELINE):
        async with redis.pipeline(transaction=False) as pipe:
            for i in range(start, min(start + PIPELINE, count)):
                pipe.zadd(key, {f"m{i}": i})
            await pipe.execute()
    zadd_s = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(0, count, PIPELINE):
        async with redis.pipeline(transaction=False) as pipe:
            for _ in range(PIPELINE):
                pipe.zpopmin(key)
            await pipe.execute()
    zpopmin_s = time.perf_counter() - started
    await redis.unlink(key)
    return RedisRates(count / zadd_s, count / zpopmin_s)


def due_payload() -> bytes:
    return notifications_pb2.NotificationDue(
        event_id=uuid.uuid4().hex,
        notification_id="r-123456@1795420000000",
        reminder_id="r-123456",
        user_id="user-123456",
        content=common_pb2.NotificationContent(title="Reminder", body="r-123456"),
    ).SerializeToString()


def raw_producer() -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP, enable_idempotence=True, acks="all", linger_ms=2
    )


@dataclass(frozen=True)
class ProduceRate:
    per_s: float
    cpu_us_per_record: float


async def aiokafka_loop(namespace: str, count: int) -> ProduceRate:
    """Records a second from one idempotent acks=all producer, all acknowledged."""
    producer = raw_producer()
    await producer.start()
    try:
        payload = due_payload()
        topic = namespace + topics.NOTIFICATIONS_DUE.name
        await producer.send_and_wait(topic, payload, key=b"warm-up")
        cpu, started = time.process_time(), time.perf_counter()
        futures = [
            await producer.send(topic, payload, key=f"user-{i % 5000}".encode())
            for i in range(count)
        ]
        await asyncio.gather(*futures)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await producer.stop()
    return ProduceRate(count / elapsed, cpu / count * 1e6)


async def lateness_floor(namespace: str, rate: int, seconds: float) -> list[float]:
    """Sorted lateness (ms) of a loop that sleeps until each fire time, then produces."""
    producer = raw_producer()
    await producer.start()
    try:
        payload = due_payload()
        topic = namespace + topics.NOTIFICATIONS_DUE.name
        count = int(rate * seconds)
        start_ms = now_ms() + 200
        late: list[float] = []
        futures = []
        for i in range(count):
            due_ms = start_ms + i * 1000 / rate
            delay_s = (due_ms - time.time() * 1000) / 1000
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            late.append(time.time() * 1000 - due_ms)
            futures.append(await producer.send(topic, payload, key=f"user-{i % 5000}".encode()))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sorted(late)
