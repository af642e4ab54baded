"""What every benchmark shares: the local infrastructure's addresses, its own Redis databases,
fresh topic namespaces that are deleted afterwards, CPU clocks and percentiles.

Redis databases 1 to 4 belong to the test suite and 0 to ``make run``; the benchmarks use 10 to
14 and only ever delete the keys under their own namespace, so two benchmarks (or a benchmark
and someone's ``make run``) can share the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import aiohttp
from aiokafka.admin import AIOKafkaAdminClient
from redis.asyncio import Redis

from herald.settings import HeraldSettings
from herald.topics import ALL_TOPICS
from herald.topics_cli import apply

HOST = "127.0.0.1"
BOOTSTRAP = HeraldSettings().kafka_bootstrap
REDIS_BASE_URL = f"redis://{HOST}:{os.environ.get('HERALD_REDIS_PORT', '63790')}"
# Redis databases of the benchmarks (never 0-4: those belong to `make run` and the tests).
DISPATCHER_DB = 10
SCHEDULER_DB = 11
E2E_SCHEDULER_DB = 12
E2E_DISPATCHER_DB = 13
STEP_MARK = "::bench-step::"


def redis_url(db: int) -> str:
    return f"{REDIS_BASE_URL}/{db}"


def step(label: str) -> None:
    """Tell the runner (which reads our stderr) that a measurement starts; also readable alone."""
    print(f"{STEP_MARK} {label}", file=sys.stderr, flush=True)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values (NaN for none)."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return float(sorted_values[index])


def thin(values: Sequence[float], at_most: int) -> list[float]:
    """At most ``at_most`` evenly spaced values of a sorted list, keeping both ends, so the
    JSON stays small while a CDF drawn from it keeps its shape."""
    if len(values) <= at_most:
        return [float(v) for v in values]
    last = len(values) - 1
    return [float(values[round(i * last / (at_most - 1))]) for i in range(at_most)]


def fresh_namespace(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}."


async def create_topics(namespace: str) -> None:
    """All of Herald's topics under ``namespace`` (quietly: ``apply`` prints each topic)."""
    with contextlib.redirect_stdout(io.StringIO()):
        await apply(BOOTSTRAP, namespace=namespace)


async def delete_topics(namespace: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        await admin.delete_topics([namespace + t.name for t in ALL_TOPICS])
    finally:
        await admin.close()


async def delete_keys(url: str, pattern: str) -> int:
    """UNLINK the keys matching ``pattern`` (never FLUSHDB: the server is shared)."""
    redis = Redis.from_url(url)
    deleted = 0
    try:
        batch: list[bytes] = []
        async for key in redis.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += int(await redis.unlink(*batch))
                batch.clear()
        if batch:
            deleted += int(await redis.unlink(*batch))
    finally:
        await redis.aclose()
    return deleted


async def wait_http_ok(url: str, timeout_s: float, what: str) -> None:
    """Poll ``url`` until it answers 200; RuntimeError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    timeout = aiohttp.ClientTimeout(total=2)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            try:
                async with session.get(url) as answer:
                    if answer.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not answer {url} within {timeout_s:.0f} s")
            await asyncio.sleep(0.1)
