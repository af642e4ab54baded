"""The scheduler against the local Kafka and Redis: intake, release of a burst, and lateness at
steady due rates, all with ``--pending`` reminders held (loaded once, since loading a million
takes a while), each against baselines measured in the same run.

Runs one ``herald_scheduler`` process on a topic namespace of its own and Redis DB 11 (only
its own keys are deleted afterwards). Release times are the NotificationDue records' Kafka
timestamps, read back after each phase so reading does not compete with the scheduler.

    uv run python -m bench.scheduler_bench [--pending 1000000] [--burst 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

if __package__ in (None, ""):  # run as a file: python bench/scheduler_bench.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis.asyncio import Redis

from bench import scheduler_baselines as base
from bench import scheduler_phases as phase
from bench.cli import Step, add_common, command_line, execute, finish, runs
from bench.common import (
    BOOTSTRAP,
    SCHEDULER_DB,
    cpu_seconds,
    create_topics,
    delete_keys,
    delete_topics,
    fresh_namespace,
    now_ms,
    percentile,
    redis_url,
    thin,
    wait_http_ok,
)
from bench.results import Goal, Results, Row
from herald.producer import Producer
from herald_dev.stack import free_port

DAY_MS = 24 * 3600 * 1000
SERIES_POINTS = 2000


@dataclass
class Context:
    args: argparse.Namespace
    namespace: str
    redis: Redis
    producer: Producer
    pid: int
    results: Results
    # Reminders a second the scheduler takes in (from the load), to plan fire times ahead.
    intake_per_s: float = 10_000.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pending", type=int, default=1_000_000, help="held days ahead")
    parser.add_argument("--burst", type=int, default=100_000, help="falling due at once")
    parser.add_argument(
        "--rates", "--rate", type=int, nargs="+", default=[1000, 5000], help="due/s"
    )
    parser.add_argument("--seconds", type=float, default=5, help="length of each steady phase")
    parser.add_argument("--baseline-count", type=int, default=30_000)
    parser.add_argument("--redis-db", type=int, default=SCHEDULER_DB)
    add_common(parser)
    return parser


def lead_ms(ctx: Context, count: int) -> int:
    """How far ahead to set fire times so that ``count`` reminders are in before they fall due:
    half as long again as the slowest intake seen so far, plus 2 s (a run whose intake was
    not done in time is reported and not counted)."""
    return int(count / ctx.intake_per_s * 1500) + 2000


async def load(ctx: Context) -> None:
    a, res = ctx.args, ctx.results
    base_ms = now_ms() + 2 * DAY_MS
    cpu, started = cpu_seconds(ctx.pid), time.monotonic()
    publish_s = await phase.publish(ctx.producer, "far", [base_ms + n for n in range(a.pending)])
    done_at = await phase.wait_caught_up(ctx.namespace, 1200, "loading the pending reminders")
    await phase.wait_pending(ctx.redis, ctx.namespace, lambda c: c >= a.pending, 30, "load")
    ctx.intake_per_s = a.pending / (done_at - started)
    res.add("scheduler.load.intake", 1, ctx.intake_per_s)
    res.add("scheduler.load.publish", 1, a.pending / publish_s)
    res.add("scheduler.load.cpu_us", 1, (cpu_seconds(ctx.pid) - cpu) / a.pending * 1e6)


async def baselines(ctx: Context, run: int) -> None:
    a, res = ctx.args, ctx.results
    rates = await base.redis_zset_loop(ctx.redis, f"{ctx.namespace}bench:zset", a.baseline_count)
    res.add("scheduler.raw.zadd", run, rates.zadd_per_s)
    res.add("scheduler.raw.zpopmin", run, rates.zpopmin_per_s)
    produced = await base.aiokafka_loop(ctx.namespace, a.baseline_count)
    res.add("scheduler.raw.produce", run, produced.per_s)
    res.add("scheduler.raw.produce.cpu_us", run, produced.cpu_us_per_record)


async def burst(ctx: Context, run: int) -> None:
    a, res = ctx.args, ctx.results
    burst_at = now_ms() + lead_ms(ctx, a.burst)
    positions = await phase.end_positions(ctx.namespace)
    started = time.monotonic()
    await phase.publish(ctx.producer, f"burst{run}", [burst_at] * a.burst)
    done_at = await phase.wait_caught_up(ctx.namespace, 600, "burst intake")
    intake = a.burst / (done_at - started)
    res.add("scheduler.intake", run, intake)
    ctx.intake_per_s = min(ctx.intake_per_s, intake)
    in_time = now_ms() < burst_at
    cpu = cpu_seconds(ctx.pid)
    await phase.wait_pending(ctx.redis, ctx.namespace, lambda c: c <= a.pending, 600, "burst")
    cpu = cpu_seconds(ctx.pid) - cpu
    published = sorted(ts for ts, _ in await phase.released_since(positions, a.burst))
    if not in_time or len(published) < a.burst:
        res.remarks.append(f"burst run {run}: not all in before the due time; not counted")
        return
    res.add("scheduler.release", run, a.burst / ((published[-1] - burst_at) / 1000))
    res.add("scheduler.release.first_ms", run, published[0] - burst_at)
    res.add("scheduler.release.cpu_us", run, cpu / a.burst * 1e6)


async def lateness(ctx: Context, run: int, rate: int) -> None:
    a, res = ctx.args, ctx.results
    floor = await base.lateness_floor(ctx.namespace, rate, min(a.seconds, 3))
    for q in (50, 99):
        res.add(f"scheduler.floor.{rate}.p{q}", run, percentile(floor, q))
    res.series[f"scheduler.floor.{rate}.run{run}"] = thin(floor, SERIES_POINTS)
    count = int(rate * a.seconds)
    steady_at = now_ms() + lead_ms(ctx, count)
    positions = await phase.end_positions(ctx.namespace)
    fire_at = [steady_at + n * 1000 // rate for n in range(count)]
    await phase.publish(ctx.producer, f"steady{rate}-{run}", fire_at)
    await phase.wait_caught_up(ctx.namespace, 600, "steady intake")
    in_time = now_ms() < steady_at
    await phase.wait_pending(
        ctx.redis, ctx.namespace, lambda c: c <= a.pending, a.seconds + 120, "steady"
    )
    found = await phase.released_since(positions, count)
    late = sorted(ts - occurrence for ts, occurrence in found)
    if not in_time or len(late) < count:
        res.remarks.append(f"lateness {rate}/s run {run}: intake not done in time; not counted")
        return
    for q in (50, 99):
        res.add(f"scheduler.late.{rate}.p{q}", run, percentile(late, q))
    res.add(f"scheduler.late.{rate}.max", run, late[-1])
    res.series[f"scheduler.late.{rate}.run{run}"] = thin(late, SERIES_POINTS)


def plan(args: argparse.Namespace) -> list[Step[Context]]:
    steps: list[Step[Context]] = [
        Step(f"scheduler load {args.pending:,} pending reminders (once)", load)
    ]
    for run, of in runs(args.repeat):
        steps += [
            Step(f"scheduler baselines (Redis ZADD/ZPOPMIN, aiokafka produce), {of}",
                 partial(baselines, run=run)),
            Step(f"scheduler burst {args.burst:,} due at once, {of}", partial(burst, run=run)),
        ]  # fmt: skip
        steps += [
            Step(f"scheduler lateness {rate:,} due/s, {of}", partial(lateness, run=run, rate=rate))
            for rate in args.rates
        ]  # fmt: skip
    return steps


def rows(args: argparse.Namespace) -> list[Row]:
    per_s = "reminders/s"
    found = [
        Row("scheduler.raw.zadd", "raw redis-py ZADD, pipelined by 100", "ops/s"),
        Row("scheduler.raw.zpopmin", "raw redis-py ZPOPMIN, pipelined by 100", "ops/s"),
        Row("scheduler.raw.produce", "raw aiokafka produce (idempotent, acks=all)", "records/s"),
        Row("scheduler.intake", f"intake of {args.burst:,} (on top of the pending)", per_s,
            "scheduler.raw.zadd"),
        Row("scheduler.load.intake", f"intake of the {args.pending:,} pending (once)", per_s,
            "scheduler.raw.zadd"),
        Row("scheduler.release", f"release of {args.burst:,} due at once", per_s,
            "scheduler.raw.produce", Goal("≥ 20,000/s", on="value", at_least=20_000)),
        Row("scheduler.raw.produce.cpu_us", "raw aiokafka produce CPU per record", "µs", digits=1),
        Row("scheduler.release.cpu_us", "scheduler CPU per released reminder", "µs",
            "scheduler.raw.produce.cpu_us"),
    ]  # fmt: skip
    for rate in args.rates:
        for q in ("p50", "p99"):
            found.append(
                Row(f"scheduler.late.{rate}.{q}", f"lateness {q} at {rate:,} due/s", "ms",
                    f"scheduler.floor.{rate}.{q}", digits=1)
            )  # fmt: skip
        found.append(Row(f"scheduler.late.{rate}.max", f"lateness max at {rate:,} due/s", "ms"))
        found += [
            Row(f"scheduler.floor.{rate}.{q}", f"floor: sleep-until + produce loop {q}, {rate:,}/s",
                "ms", digits=1)
            for q in ("p50", "p99")
        ]  # fmt: skip
    return found


async def main_async(args: argparse.Namespace) -> Results:
    results = Results(
        bench="scheduler",
        title="Scheduler: intake, release and lateness with reminders pending",
        command=command_line("bench.scheduler_bench"),
        sizes={
            "pending reminders (loaded once, held through every run)": args.pending,
            "burst falling due at once": args.burst,
            "steady due rates (/s)": ", ".join(map(str, args.rates)),
            "steady phase (s)": args.seconds,
            "baseline operations": args.baseline_count,
            "runs": args.repeat,
        },
        rows=rows(args),
    )
    namespace = fresh_namespace("bench-scheduler")
    url = redis_url(args.redis_db)
    await create_topics(namespace)
    redis = Redis.from_url(url)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="scheduler-bench-") as folder:
        scheduler = phase.start_scheduler(namespace, url, port, Path(folder) / "scheduler.log")
        try:
            await wait_http_ok(f"http://127.0.0.1:{port}/readyz", 60, "the scheduler")
            async with Producer(BOOTSTRAP, namespace=namespace, client_id="bench") as producer:
                context = Context(args, namespace, redis, producer, scheduler.pid, results)
                await execute(plan(args), context)
        finally:
            scheduler.send_signal(signal.SIGTERM)
            try:
                scheduler.wait(timeout=60)
            except subprocess.TimeoutExpired:
                scheduler.kill()
                scheduler.wait()
            await redis.aclose()
            await delete_keys(url, f"herald:scheduler:{{{namespace}*")
            await delete_keys(url, f"{namespace}*")
            await delete_topics(namespace)
    return results


def main() -> None:
    args = build_parser().parse_args()
    finish(asyncio.run(main_async(args)), args.json)


if __name__ == "__main__":
    main()
