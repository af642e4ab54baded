"""Registrations a second and their latency through the token-api, at several concurrencies,
against a raw asyncpg upsert loop into the same table at the same concurrency.

Creates a database of its own, starts ``herald-token-api serve`` on 127.0.0.1 (with Kafka and
fresh topics, so the outbox relay publishes as in production), registers new targets for new
users with a lean HTTP client (see token_api_loops), then runs as many plain ``INSERT ... ON
CONFLICT DO UPDATE`` statements with an asyncpg pool of the same size as the service's. Besides
rates and latencies it reports CPU per operation: the token-api's, PostgreSQL's (every local
``postgres`` process: backends, WAL writer, autovacuum) and the load generator's own, for both
loops. Drops the database and the topics at the end.

    uv run python -m bench.token_api_bench [--requests 3000] [--concurrency 1 16 64 256]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

if __package__ in (None, ""):  # run as a file: python bench/token_api_bench.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # type: ignore[import-untyped,unused-ignore]

from bench.cli import Step, add_common, command_line, execute, finish, runs
from bench.common import (
    BOOTSTRAP,
    HOST,
    cpu_seconds,
    create_topics,
    delete_topics,
    fresh_namespace,
    percentile,
    wait_http_ok,
)
from bench.results import Goal, Results, Row
from bench.token_api_loops import POOL_SIZE, Timed, api_loop, raw_loop
from herald_dev.stack import free_port
from herald_token_api.db import keep_session
from herald_token_api.migrate import migrate
from herald_token_api.settings import TokenApiSettings

SECRET = "bench-secret-0123456789abcdef0123456789"
ISSUER = "https://auth.bench.herald.example/"
AUDIENCE = "herald-token-api"


@dataclass
class Context:
    args: argparse.Namespace
    base_urls: list[str]
    database_url: str
    pids: list[int]
    results: Results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="per concurrency and run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64, 256])
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="token-api processes sharing the database pool size; the client spreads its"
        " connections over them, as a load balancer would",
    )
    add_common(parser)
    return parser


def count_for(args: argparse.Namespace, concurrency: int) -> int:
    """One at a time is latency bound: a third of the requests keep it as short as the rest."""
    requests = int(args.requests)
    return max(50, requests // 3) if concurrency == 1 else requests


def postgres_cpu_s() -> float:
    """CPU used so far by the PostgreSQL processes this machine shows (0 when none): the live
    ones to the nanosecond (schedstat), plus the exited ones (autovacuum workers, say), whose
    CPU the kernel added to the postmaster's children's time, in clock ticks."""
    running_ns = exited_ticks = 0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text() == "postgres\n":
                running_ns += int((entry / "schedstat").read_text().split()[0])
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                exited_ticks += int(fields[13]) + int(fields[14])
        except OSError:  # it exited meanwhile
            continue
    return running_ns / 1e9 + exited_ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Clocks:
    """CPU seconds so far of the token-api, of PostgreSQL and of this process."""

    server_s: float
    postgres_s: float
    client_s: float

    @classmethod
    def read(cls, pids: list[int]) -> Clocks:
        server_s = sum(cpu_seconds(pid) for pid in pids)
        return cls(server_s, postgres_cpu_s(), time.process_time())

    def add_since(self, res: Results, key: str, run: int, pids: list[int], count: int) -> None:
        now = Clocks.read(pids)
        if key.endswith(".api"):
            res.add(f"{key}.cpu_us", run, (now.server_s - self.server_s) / count * 1e6)
        res.add(f"{key}.pg_cpu_us", run, (now.postgres_s - self.postgres_s) / count * 1e6)
        res.add(f"{key}.client_cpu_us", run, (now.client_s - self.client_s) / count * 1e6)


def record(res: Results, key: str, run: int, timed: Timed) -> None:
    late = sorted(timed.latencies_s)
    res.add(key, run, timed.count / timed.elapsed_s)
    res.add(f"{key}.p50_ms", run, percentile(late, 50) * 1000)
    res.add(f"{key}.p99_ms", run, percentile(late, 99) * 1000)


async def measure(ctx: Context, run: int, concurrency: int) -> None:
    count = count_for(ctx.args, concurrency)
    key = f"token_api.c{concurrency}"
    clocks = Clocks.read(ctx.pids)
    api = await api_loop(ctx.base_urls, count, concurrency, (SECRET, ISSUER, AUDIENCE))
    clocks.add_since(ctx.results, f"{key}.api", run, ctx.pids, count)
    record(ctx.results, f"{key}.api", run, api)
    # Reset on release as the service's pool does (asyncpg's own reset query is a round trip).
    pool = await asyncpg.create_pool(
        ctx.database_url, min_size=POOL_SIZE, max_size=POOL_SIZE, reset=keep_session
    )
    try:
        clocks = Clocks.read(ctx.pids)
        raw = await raw_loop(pool, count, concurrency)
        clocks.add_since(ctx.results, f"{key}.raw", run, ctx.pids, count)
    finally:
        await pool.close()
    record(ctx.results, f"{key}.raw", run, raw)


def plan(args: argparse.Namespace) -> list[Step[Context]]:
    return [
        Step(
            f"token-api registrations at concurrency {c}, {of}",
            partial(measure, run=run, concurrency=c),
        )
        for run, of in runs(args.repeat)
        for c in args.concurrency
    ]


def rows(args: argparse.Namespace) -> list[Row]:
    found = []
    for c in args.concurrency:
        key = f"token_api.c{c}"
        at64 = c == 64
        found += [
            Row(f"{key}.raw", f"raw asyncpg upsert, concurrency {c}", "ops/s"),
            Row(f"{key}.raw.p50_ms", f"raw asyncpg upsert p50, concurrency {c}", "ms", digits=1),
            Row(f"{key}.raw.p99_ms", f"raw asyncpg upsert p99, concurrency {c}", "ms", digits=1),
            Row(f"{key}.api", f"token-api PUT /v1/targets, concurrency {c}", "registrations/s",
                f"{key}.raw", Goal("≥ 0.5 \u00d7 raw", at_least=0.5) if at64 else None),
            Row(f"{key}.api.p50_ms", f"token-api p50 latency, concurrency {c}", "ms",
                f"{key}.raw.p50_ms", digits=1),
            Row(f"{key}.api.p99_ms", f"token-api p99 latency, concurrency {c}", "ms",
                f"{key}.raw.p99_ms",
                Goal("≤ 25 ms", on="value", at_most=25) if at64 else None, digits=1),
            Row(f"{key}.api.cpu_us", f"token-api CPU per registration, concurrency {c}", "µs"),
            Row(f"{key}.api.pg_cpu_us", f"PostgreSQL CPU per registration, concurrency {c}",
                "µs", f"{key}.raw.pg_cpu_us"),
            Row(f"{key}.raw.pg_cpu_us", f"PostgreSQL CPU per raw upsert, concurrency {c}", "µs"),
            Row(f"{key}.api.client_cpu_us", f"load generator CPU per registration, "
                f"concurrency {c}", "µs"),
            Row(f"{key}.raw.client_cpu_us", f"raw loop CPU per upsert, concurrency {c}", "µs"),
        ]  # fmt: skip
    return found


async def main_async(args: argparse.Namespace) -> Results:
    results = Results(
        bench="token_api",
        title="Token-api: registrations of new targets, against a raw asyncpg upsert",
        command=command_line("bench.token_api_bench"),
        sizes={
            "requests per concurrency and run (a third at concurrency 1)": args.requests,
            "concurrencies": ", ".join(map(str, args.concurrency)),
            "database pool (service and raw loop)": POOL_SIZE,
            "token-api processes (sharing that pool size)": args.replicas,
            "runs": args.repeat,
        },
        rows=rows(args),
    )
    admin_url = TokenApiSettings().database_url.get_secret_value()
    name = f"herald_bench_{uuid.uuid4().hex[:8]}"
    database_url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    namespace = fresh_namespace("bench-token-api")
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await create_topics(namespace)
    env = {
        **os.environ,
        "HERALD_KAFKA_BOOTSTRAP": BOOTSTRAP,
        "HERALD_DATABASE_URL": database_url,
        "HERALD_TOPIC_NAMESPACE": namespace,
        "HERALD_HTTP_HOST": HOST,
        "HERALD_JWT_HS256_SECRET": SECRET,
        "HERALD_JWT_ISSUER": ISSUER,
        "HERALD_JWT_AUDIENCE": AUDIENCE,
        "HERALD_DB_POOL_MAX_SIZE": str(max(1, POOL_SIZE // args.replicas)),
        "HERALD_LOG_LEVEL": "WARNING",
    }
    processes, base_urls = [], []
    try:
        for _ in range(args.replicas):
            port = free_port()
            processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "herald_token_api",
                    "serve",
                    env={**env, "HERALD_HTTP_PORT": str(port)},
                )
            )
            base_urls.append(f"http://{HOST}:{port}")
            await wait_http_ok(f"{base_urls[-1]}/readyz", 60, "the token-api")
        connection = await asyncpg.connect(database_url)
        try:
            await migrate(connection)
        finally:
            await connection.close()
        started, warm_up = time.monotonic(), min(500, args.requests)
        await api_loop(base_urls, warm_up, 16, (SECRET, ISSUER, AUDIENCE))
        took_s = time.monotonic() - started
        results.remarks.append(f"warm-up (not counted): {warm_up} registrations in {took_s:.1f} s")
        pids = [p.pid for p in processes]
        await execute(plan(args), Context(args, base_urls, database_url, pids, results))
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await asyncio.wait_for(process.wait(), 30)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
        await delete_topics(namespace)
    return results


def main() -> None:
    args = build_parser().parse_args()
    finish(asyncio.run(main_async(args)), args.json)


if __name__ == "__main__":
    main()
