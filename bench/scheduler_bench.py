"""Benchmark of the scheduler against the local Kafka and Redis.

    uv run python bench/scheduler_bench.py [--pending 1000000] [--burst 100000] ...

Runs one scheduler process (``python -m herald_scheduler``) on a topic namespace and Redis
database of its own, and measures from this process:

1. baselines: ``redis-benchmark`` ZADD/ZPOPMIN, a redis-py ZADD/ZPOPMIN loop and a raw
   aiokafka produce loop (idempotent, acks=all), on this machine, in this run;
2. intake: ``--pending`` reminders (fire times days ahead) published, until all are in Redis;
3. burst: ``--burst`` of them fall due at the same millisecond, until all are released;
4. steady: reminders due at ``--rate`` per second for ``--seconds``, and their lateness.

Release times come from the NotificationDue records' timestamps (set by the scheduler's
producer when it publishes), read back after each phase so reading does not compete with the
scheduler; the ack-time lateness comes from the scheduler's own histogram on /metrics.
Redis database ``--redis-db`` is flushed before and after: do not share it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from redis.asyncio import Redis

from herald import topics
from herald.producer import Producer
from herald.topics_cli import apply
from herald.v1 import common_pb2, notifications_pb2, reminders_pb2
from herald_scheduler.settings import SchedulerSettings

DAY_MS = 24 * 3600 * 1000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def percentile(sorted_values: Sequence[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


@dataclass(frozen=True)
class Options:
    bootstrap: str
    redis_host: str
    redis_port: int
    redis_db: int
    pending: int
    burst: int
    rate: int
    seconds: int
    baseline_count: int

    @property
    def redis_url(self) -> str:
        return f"redis://{self.redis_host}:{self.redis_port}/{self.redis_db}"


def parse_args() -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, default=63790)
    parser.add_argument("--redis-db", type=int, default=1)
    parser.add_argument("--pending", type=int, default=1_000_000, help="reminders pending")
    parser.add_argument("--burst", type=int, default=100_000, help="falling due at once")
    parser.add_argument("--rate", type=int, default=5000, help="steady reminders due per second")
    parser.add_argument("--seconds", type=int, default=20, help="length of the steady phase")
    parser.add_argument("--baseline-count", type=int, default=100_000)
    a = parser.parse_args()
    return Options(
        a.bootstrap,
        a.redis_host,
        a.redis_port,
        a.redis_db,
        a.pending,
        a.burst,
        a.rate,
        a.seconds,
        a.baseline_count,
    )


def report(name: str, **figures: Any) -> None:
    print(json.dumps({"phase": name, **figures}), flush=True)


# Baselines


def redis_benchmark(o: Options) -> None:
    if shutil.which("redis-benchmark") is None:
        report("baseline redis-benchmark", skipped="redis-benchmark not installed")
        return
    for pipeline in (1, 16):
        out = subprocess.run(
            [
                "redis-benchmark",
                *("-h", o.redis_host, "-p", str(o.redis_port), "--dbnum", str(o.redis_db)),
                *("-n", str(o.baseline_count), "-P", str(pipeline), "-q", "-t", "zadd,zpopmin"),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        rates = {}
        for line in out.replace("\r", "\n").splitlines():
            name, _, rest = line.partition(":")
            if "requests per second" in rest and "overall" not in rest:
                rates[name.strip()] = float(rest.split("requests")[0])
        report("baseline redis-benchmark", pipeline=pipeline, ops_per_s=rates)


async def redis_py_loop(o: Options, redis: Redis) -> None:
    key = "herald:bench:zset"
    n = o.baseline_count
    started = time.perf_counter()
    for start in range(0, n, 100):
        async with redis.pipeline(transaction=False) as pipe:
            for i in range(start, min(start + 100, n)):
                pipe.zadd(key, {f"m{i}": i})
            await pipe.execute()
    zadd_s = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(0, n, 100):
        async with redis.pipeline(transaction=False) as pipe:
            for _ in range(100):
                pipe.zpopmin(key)
            await pipe.execute()
    zpopmin_s = time.perf_counter() - started
    report(
        "baseline redis-py pipelined by 100",
        zadd_per_s=round(n / zadd_s),
        zpopmin_per_s=round(n / zpopmin_s),
    )


async def aiokafka_loop(o: Options, namespace: str) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=o.bootstrap, enable_idempotence=True, acks="all", linger_ms=2
    )
    await producer.start()
    try:
        due = notifications_pb2.NotificationDue(
            event_id=uuid.uuid4().hex,
            notification_id="r-123456@1795420000000",
            reminder_id="r-123456",
            user_id="user-123456",
            content=common_pb2.NotificationContent(title="Reminder", body="r-123456"),
        ).SerializeToString()
        topic = namespace + topics.NOTIFICATIONS_DUE.name
        await producer.send_and_wait(topic, due, key=b"warm-up")
        started = time.perf_counter()
        futures = [
            await producer.send(topic, due, key=f"user-{i % 5000}".encode())
            for i in range(o.baseline_count)
        ]
        await asyncio.gather(*futures)
        elapsed = time.perf_counter() - started
    finally:
        await producer.stop()
    report("baseline aiokafka produce loop", records_per_s=round(o.baseline_count / elapsed))


# The scheduler under test


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_scheduler(o: Options, namespace: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HERALD_KAFKA_BOOTSTRAP": o.bootstrap,
        "HERALD_TOPIC_NAMESPACE": namespace,
        "HERALD_REDIS_URL": o.redis_url,
        "HERALD_HEALTH_PORT": str(port),
        "HERALD_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen([sys.executable, "-m", "herald_scheduler"], env=env)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def histogram_quantiles(text: str, name: str) -> dict[str, float]:
    """p50/p99 (upper bucket bounds, in ms) of a Prometheus histogram."""
    buckets: list[tuple[float, float]] = []
    for line in text.splitlines():
        if line.startswith(f"{name}_bucket"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float(le), float(line.rsplit(" ", 1)[1])))
    total = buckets[-1][1] if buckets else 0.0
    result: dict[str, float] = {}
    for q in (50, 99):
        bound = next((b for b, c in buckets if total and c >= total * q / 100), float("nan"))
        result[f"p{q}_at_most_ms"] = bound * 1000
    return result


async def pending(redis: Redis, namespace: str) -> int:
    total = 0
    async for key in redis.scan_iter(match=f"herald:scheduler:{{{namespace}*:due", count=1000):
        total += int(await redis.zcard(key))
    async for key in redis.scan_iter(match=f"herald:scheduler:{{{namespace}*:lease", count=1000):
        total += int(await redis.zcard(key))
    return total


async def wait_pending(
    redis: Redis, namespace: str, done: Any, timeout_s: float, what: str
) -> float:
    """Poll until ``done(pending)``; returns the monotonic time it became true."""
    deadline = time.monotonic() + timeout_s
    while True:
        count = await pending(redis, namespace)
        if done(count):
            return time.monotonic()
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: gave up after {timeout_s}s with {count} pending")
        await asyncio.sleep(0.05)


async def wait_caught_up(o: Options, namespace: str, timeout_s: float, what: str) -> float:
    """Poll until the scheduler's group committed every record of the reminders topic."""
    topic = namespace + topics.REMINDERS.name
    tps = [TopicPartition(topic, p) for p in range(topics.REMINDERS.partitions)]
    admin = AIOKafkaAdminClient(bootstrap_servers=o.bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=o.bootstrap)
    await admin.start()
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            ends = await consumer.end_offsets(tps)
            group = SchedulerSettings(topic_namespace=namespace).consumer_group
            committed = await admin.list_consumer_group_offsets(group)
            if all(tp in committed and committed[tp].offset >= ends[tp] for tp in tps):
                return time.monotonic()
            if time.monotonic() > deadline:
                raise SystemExit(f"{what}: the scheduler did not catch up in {timeout_s}s")
            await asyncio.sleep(0.1)
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


async def released_since(
    o: Options, namespace: str, positions: dict[TopicPartition, int], count: int
) -> list[tuple[int, int]]:
    """(publish time, occurrence) of the NotificationDue records after ``positions``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=o.bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        consumer.assign(list(positions))
        for tp, offset in positions.items():
            consumer.seek(tp, offset)
        found: list[tuple[int, int]] = []
        deadline = time.monotonic() + 120
        while len(found) < count and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500, max_records=20_000)).values():
                for raw in batch:
                    due = notifications_pb2.NotificationDue.FromString(raw.value)
                    found.append((raw.timestamp, due.occurrence_at.ToMilliseconds()))
        return found
    finally:
        await consumer.stop()


async def end_positions(o: Options, namespace: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=o.bootstrap)
    await consumer.start()
    try:
        tps = [
            TopicPartition(namespace + topics.NOTIFICATIONS_DUE.name, p)
            for p in range(topics.NOTIFICATIONS_DUE.partitions)
        ]
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def run(o: Options) -> None:
    namespace = f"bench-{uuid.uuid4().hex[:8]}."
    await apply(o.bootstrap, namespace=namespace)
    redis = Redis.from_url(o.redis_url)
    await redis.flushdb()
    port = free_port()
    scheduler = start_scheduler(o, namespace, port)
    try:
        report(
            "setup",
            pending=o.pending,
            burst=o.burst,
            steady_rate=o.rate,
            steady_seconds=o.seconds,
            cpus=os.cpu_count(),
        )
        redis_benchmark(o)
        await redis_py_loop(o, redis)
        await aiokafka_loop(o, namespace)
        async with Producer(o.bootstrap, namespace=namespace, client_id="bench") as producer:
            await intake_and_release(o, namespace, redis, producer, port, scheduler.pid)
        scheduler.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = scheduler.wait(timeout=60)
        report("shutdown", exit_code=code, seconds=round(time.monotonic() - started, 2))
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
            scheduler.wait()
        await redis.flushdb()
        await redis.aclose()
        admin = AIOKafkaAdminClient(bootstrap_servers=o.bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([namespace + t.name for t in topics.ALL_TOPICS])
        finally:
            await admin.close()


async def intake_and_release(
    o: Options, namespace: str, redis: Redis, producer: Producer, port: int, pid: int
) -> None:
    # 1. Intake: everything but the burst is due days ahead.
    far = o.pending - o.burst
    base = now_ms() + 2 * DAY_MS
    started = time.monotonic()
    cpu = cpu_seconds(pid)
    publish_s = await publish(producer, "far", [base + n for n in range(far)])
    done_at = await wait_caught_up(o, namespace, 1800, "intake")
    await wait_pending(redis, namespace, lambda c: c >= far, 10, "intake")
    intake_rate = far / (done_at - started)
    report(
        "intake",
        reminders=far,
        publish_per_s=round(far / publish_s),
        intake_per_s=round(intake_rate),
        seconds=round(done_at - started, 1),
        scheduler_cpu_s=round(cpu_seconds(pid) - cpu, 1),
    )

    # 2. Burst: these fall due at the same millisecond, with everything else pending.
    burst_at = now_ms() + int(o.burst / intake_rate * 1000 * 2) + 5000
    positions = await end_positions(o, namespace)
    await publish(producer, "burst", [burst_at] * o.burst)
    await wait_caught_up(o, namespace, 600, "burst intake")
    if now_ms() >= burst_at:
        raise SystemExit("the burst fell due before its intake finished: rerun")
    cpu = cpu_seconds(pid)
    await wait_pending(redis, namespace, lambda c: c <= far, 600, "burst release")
    burst_cpu_s = cpu_seconds(pid) - cpu
    found = await released_since(o, namespace, positions, o.burst)
    published = sorted(ts for ts, _ in found)
    seconds = (published[-1] - burst_at) / 1000
    report(
        "burst release",
        released=len(found),
        pending_before=o.pending,
        seconds=round(seconds, 2),
        release_per_s=round(len(found) / seconds),
        first_after_ms=published[0] - burst_at,
        early=sum(ts < occurrence for ts, occurrence in found),
        scheduler_cpu_s=round(burst_cpu_s, 1),
    )

    # 3. Steady: o.rate per second fall due, evenly spread, with the far ones pending.
    steady = o.rate * o.seconds
    histogram_before = metrics(port)
    steady_at = now_ms() + int(steady / intake_rate * 1000 * 2) + 5000
    positions = await end_positions(o, namespace)
    await publish(producer, "steady", [steady_at + n * 1000 // o.rate for n in range(steady)])
    await wait_caught_up(o, namespace, 600, "steady intake")
    if now_ms() >= steady_at:
        raise SystemExit("the steady phase began before its intake finished: rerun")
    await asyncio.sleep(max(0, steady_at - now_ms()) / 1000)
    cpu, steady_started = cpu_seconds(pid), time.monotonic()
    await wait_pending(redis, namespace, lambda c: c <= far, 600, "steady release")
    steady_cpu = (cpu_seconds(pid) - cpu) / (time.monotonic() - steady_started)
    found = await released_since(o, namespace, positions, steady)
    lateness = sorted(ts - occurrence for ts, occurrence in found)
    ack = histogram_quantiles(
        subtract_histograms(metrics(port), histogram_before), "herald_scheduler_lateness_seconds"
    )
    report(
        "steady lateness (publish time - fire time)",
        released=len(found),
        due_per_s=o.rate,
        p50_ms=percentile(lateness, 50),
        p99_ms=percentile(lateness, 99),
        max_ms=lateness[-1],
        mean_ms=round(statistics.fmean(lateness), 2),
        early=sum(1 for late in lateness if late < 0),
        ack_lateness_from_histogram=ack,
        scheduler_cpu_share=round(steady_cpu, 2),
    )


def subtract_histograms(after: str, before: str) -> str:
    """The bucket lines of ``after`` minus those of ``before`` (same Prometheus text format)."""
    old = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in before.splitlines()
        if line and not line.startswith("#")
    }
    lines = []
    for line in after.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            lines.append(f"{name} {float(value) - old.get(name, 0.0)}")
    return "\n".join(lines)


def main() -> None:
    asyncio.run(run(parse_args()))


if __name__ == "__main__":
    main()
