"""Registrations a second through the token-api, against a raw asyncpg upsert loop.

Creates a database of its own, starts `herald-token-api serve` as a subprocess on 127.0.0.1
(with Kafka and fresh topics, so the outbox relay publishes as it would in production), then
registers new targets for new users with an aiohttp client at the given concurrency, then runs
the same number of plain `INSERT ... ON CONFLICT DO UPDATE` statements into the same table with
asyncpg at the same concurrency. Prints both rates, p50/p99 latency and the ratio; drops the
database and the topics at the end.

    uv run python bench/token_api_bench.py [--requests 20000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg  # type: ignore[import-untyped,unused-ignore]
import jwt
from aiokafka.admin import AIOKafkaAdminClient

from herald.topics import ALL_TOPICS
from herald.topics_cli import apply
from herald_token_api.migrate import migrate
from herald_token_api.settings import TokenApiSettings

SECRET = "bench-secret-0123456789abcdef0123456789"
ISSUER = "https://auth.bench.herald.example/"
AUDIENCE = "herald-token-api"
POOL_SIZE = 16
RAW_UPSERT = (
    "INSERT INTO push_tokens (target, target_id, kind, user_id, platform)"
    " VALUES ($1, $2, 'token', $3, 'web')"
    " ON CONFLICT (target) DO UPDATE SET last_seen_at = now()"
)


@dataclass(frozen=True)
class Result:
    name: str
    count: int
    elapsed_s: float
    latencies_s: list[float]
    # CPU used by every process on the machine (client, server, PostgreSQL, Kafka, others).
    machine_cpu_s: float

    @property
    def rate(self) -> float:
        return self.count / self.elapsed_s

    def percentile_ms(self, q: int) -> float:
        return statistics.quantiles(self.latencies_s, n=100)[q - 1] * 1000

    def line(self) -> str:
        return (
            f"{self.name:<24} {self.rate:>10.0f}/s   p50 {self.percentile_ms(50):6.2f} ms"
            f"   p99 {self.percentile_ms(99):6.2f} ms   ({self.count} in {self.elapsed_s:.1f} s,"
            f" machine CPU {self.machine_cpu_s / self.count * 1e6:.0f} µs each)"
        )


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU time all processes on this machine have used so far, all cores (Linux /proc)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def target(run: str, n: int) -> str:
    return f"cAbCdEfGhIjKlMnOpQrStU:APA91b{run}{n:010d}{'b' * 110}"


async def timed(
    name: str, count: int, concurrency: int, call: Callable[[int], Awaitable[None]]
) -> Result:
    latencies: list[float] = []
    queue = iter(range(count))

    async def worker() -> None:
        for n in queue:
            started = time.perf_counter()
            await call(n)
            latencies.append(time.perf_counter() - started)

    busy_s = machine_busy_s()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed_s = time.perf_counter() - started
    return Result(name, count, elapsed_s, latencies, machine_busy_s() - busy_s)


async def bench_api(base_url: str, requests: int, concurrency: int) -> Result:
    run = uuid.uuid4().hex[:8]
    now = int(time.time())
    headers = [
        {
            "Authorization": "Bearer "
            + jwt.encode(
                {"sub": f"user-{run}-{n}", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 3600},
                SECRET,
                algorithm="HS256",
            )
        }
        for n in range(requests)
    ]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url, connector=connector) as session:

        async def register(n: int) -> None:
            body = {"token": target(run, n), "device_label": "bench"}
            async with session.put("/v1/targets", json=body, headers=headers[n]) as response:
                if response.status != 201:
                    raise RuntimeError(f"{response.status}: {await response.text()}")

        await timed("warm-up", min(1000, requests), concurrency, register)
        headers = headers[min(1000, requests) :] + headers[: min(1000, requests)]
        return await timed("token-api PUT /v1/targets", requests, concurrency, register)


async def bench_raw(database_url: str, requests: int, concurrency: int) -> Result:
    run = uuid.uuid4().hex[:8]
    pool = await asyncpg.create_pool(database_url, min_size=POOL_SIZE, max_size=POOL_SIZE)
    try:

        async def upsert(n: int) -> None:
            value = target(run, n)
            await pool.execute(RAW_UPSERT, value, uuid.uuid4().hex, f"raw-{run}-{n}")

        return await timed("raw asyncpg upsert", requests, concurrency, upsert)
    finally:
        await pool.close()


async def wait_ready(base_url: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError("the token-api exited during start-up")
            try:
                async with session.get(f"{base_url}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the token-api did not become ready")


async def main(requests: int, concurrency: int) -> None:
    base = TokenApiSettings()
    admin_url = base.database_url.get_secret_value()
    name = f"herald_bench_{uuid.uuid4().hex[:8]}"
    database_url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    namespace = f"token-api-bench-{uuid.uuid4().hex[:8]}."
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await apply(base.kafka_bootstrap, namespace=namespace)
    port = free_port()
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": database_url,
        "HERALD_TOPIC_NAMESPACE": namespace,
        "HERALD_HTTP_PORT": str(port),
        "HERALD_JWT_HS256_SECRET": SECRET,
        "HERALD_JWT_ISSUER": ISSUER,
        "HERALD_JWT_AUDIENCE": AUDIENCE,
        "HERALD_DB_POOL_MAX_SIZE": str(POOL_SIZE),
        "HERALD_LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "herald_token_api", "serve", env=env
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        await wait_ready(base_url, process)
        server_cpu_s = cpu_seconds(process.pid)
        own_cpu_s = time.process_time()
        api = await bench_api(base_url, requests, concurrency)
        server_cpu_s = cpu_seconds(process.pid) - server_cpu_s
        own_cpu_s = time.process_time() - own_cpu_s
        connection = await asyncpg.connect(database_url)
        try:
            await migrate(connection)
        finally:
            await connection.close()
        raw = await bench_raw(database_url, requests, concurrency)
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
        kafka_admin = AIOKafkaAdminClient(bootstrap_servers=base.kafka_bootstrap)
        await kafka_admin.start()
        try:
            await kafka_admin.delete_topics([namespace + t.name for t in ALL_TOPICS])
        finally:
            await kafka_admin.close()
    print(f"\nnew registrations, concurrency {concurrency}, {os.cpu_count()} cores")
    print(api.line())
    print(raw.line())
    print(f"ratio token-api / raw: {api.rate / raw.rate:.2f}")
    print(
        f"CPU per registration: token-api {server_cpu_s / requests * 1e6:.0f} µs,"
        f" this client {own_cpu_s / requests * 1e6:.0f} µs"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.requests, arguments.concurrency))
