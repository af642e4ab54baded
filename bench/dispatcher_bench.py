"""Notifications a second through the whole dispatcher (Kafka in, FCM emulator, reports out),
against a plain aiohttp send loop and firebase-admin's ``send_each_async`` on the same emulator,
without and with injected FCM latency, with 1 and 2 processes, and across in-flight limits.

Each scenario runs on topics of its own with one target per user; the dispatcher gets as many
requests in flight as the raw loop has workers in the same conditions. Needs the local Kafka
and Redis (``make infra-up``); uses Redis DB 10 under the scenario's namespace and deletes what
it wrote.

    uv run python -m bench.dispatcher_bench [--messages 20000] [--sdk-messages 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

if __package__ in (None, ""):  # run as a file: python bench/dispatcher_bench.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cli import Step, add_common, command_line, execute, finish, runs
from bench.common import DISPATCHER_DB, redis_url
from bench.dispatcher_run import Scenario, dispatcher_rate
from bench.fcm_loops import Emulator, emulator, raw_loop, sdk_loop
from bench.results import Goal, Results, Row
from fcm_emulator.client import EmulatorClient
from fcm_emulator.faults import FaultConfig


@dataclass
class Context:
    args: argparse.Namespace
    fcm: Emulator
    results: Results
    log: Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--sdk-messages", type=int, default=500)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=64, help="raw loop, no latency")
    parser.add_argument("--in-flight", type=int, default=500, help="raw loop with latency")
    parser.add_argument(
        "--scale-in-flight",
        type=int,
        default=128,
        help="in-flight limit of the 1 vs 2 processes comparison with latency",
    )
    parser.add_argument(
        "--sweep",
        type=int,
        nargs="*",
        default=[16, 128],
        help="further in-flight limits tried with latency (besides --in-flight)",
    )
    parser.add_argument(
        "--lean", action="store_true", help="skip the 2-process and SDK-sender scenarios (smoke)"
    )
    parser.add_argument("--redis-db", type=int, default=DISPATCHER_DB)
    add_common(parser)
    return parser


def sweep_points(args: argparse.Namespace) -> list[int]:
    return sorted({*args.sweep, args.in_flight})


def sweep_messages(args: argparse.Namespace, in_flight: int) -> int:
    """Small limits are slow by design (in_flight / latency): fewer messages keep them short."""
    return int(min(args.messages, max(200, in_flight * 50)))


async def set_latency(ctx: Context, latency_ms: int) -> None:
    async with EmulatorClient(ctx.fcm.url) as client:
        await client.set_faults(FaultConfig(latency_ms=latency_ms))


async def baselines(ctx: Context, run: int) -> None:
    a, res = ctx.args, ctx.results
    await set_latency(ctx, 0)
    raw = await raw_loop(ctx.fcm, a.messages, a.concurrency)
    res.add("dispatcher.l0.raw", run, raw.per_s)
    res.add("dispatcher.l0.raw.cpu_us", run, raw.cpu_us_per_message)
    sdk = await sdk_loop(ctx.fcm, a.sdk_messages)
    res.add("dispatcher.l0.sdk", run, sdk.per_s)
    res.add("dispatcher.l0.sdk.cpu_us", run, sdk.cpu_us_per_message)


async def no_latency(
    ctx: Context, run: int, key: str, processes: int = 1, client: str = "http"
) -> None:
    a = ctx.args
    messages = a.sdk_messages if client == "firebase-admin" else a.messages
    await set_latency(ctx, 0)
    measured = await dispatcher_rate(
        Scenario(messages, processes, client, a.concurrency),
        ctx.fcm,
        redis_url(a.redis_db),
        ctx.log,
    )
    ctx.results.add(key, run, measured.per_s)
    ctx.results.add(f"{key}.cpu_us", run, measured.cpu_us_per_notification)


async def latency_baselines(ctx: Context, run: int) -> None:
    a, res = ctx.args, ctx.results
    await set_latency(ctx, a.latency_ms)
    for limit in sweep_points(a):
        raw = await raw_loop(ctx.fcm, sweep_messages(a, limit), limit)
        res.add(f"dispatcher.l{a.latency_ms}.if{limit}.raw", run, raw.per_s)
    sdk = await sdk_loop(ctx.fcm, a.sdk_messages)
    res.add(f"dispatcher.l{a.latency_ms}.sdk", run, sdk.per_s)


async def with_latency(ctx: Context, run: int, limit: int, processes: int = 1) -> None:
    a = ctx.args
    await set_latency(ctx, a.latency_ms)
    messages = sweep_messages(a, limit) if processes == 1 else a.messages
    measured = await dispatcher_rate(
        Scenario(messages, processes, "http", limit),
        ctx.fcm,
        redis_url(a.redis_db),
        ctx.log,
    )
    ctx.results.add(f"dispatcher.l{a.latency_ms}.if{limit}.x{processes}", run, measured.per_s)


def plan(args: argparse.Namespace) -> list[Step[Context]]:
    steps: list[Step[Context]] = []
    lat = args.latency_ms
    for run, of in runs(args.repeat):
        steps += [
            Step(f"dispatcher baselines (raw loop, SDK), no latency, {of}",
                 partial(baselines, run=run)),
            Step(f"dispatcher x1, no latency, {of}",
                 partial(no_latency, run=run, key="dispatcher.l0.x1")),
        ]  # fmt: skip
        if not args.lean:
            steps += [
                Step(f"dispatcher x2, no latency, {of}",
                     partial(no_latency, run=run, key="dispatcher.l0.x2", processes=2)),
                Step(f"dispatcher x1 with the firebase-admin sender, {of}",
                     partial(no_latency, run=run, key="dispatcher.l0.x1sdk",
                             client="firebase-admin")),
            ]  # fmt: skip
        steps.append(
            Step(f"dispatcher baselines, {lat} ms latency, {of}",
                 partial(latency_baselines, run=run))
        )  # fmt: skip
        steps += [
            Step(f"dispatcher x1, {lat} ms latency, in-flight {limit}, {of}",
                 partial(with_latency, run=run, limit=limit))
            for limit in sweep_points(args)
        ]  # fmt: skip
        if not args.lean:
            steps += [
                Step(f"dispatcher x2, {lat} ms latency, in-flight {limit} each, {of}",
                     partial(with_latency, run=run, limit=limit, processes=2))
                for limit in scale_points(args)
            ]  # fmt: skip
    return steps


def scale_points(args: argparse.Namespace) -> list[int]:
    """In-flight limits measured with 2 processes: one where a process is held by the latency
    (so a second has CPU to use on two cores), and the top one, where it is held by CPU."""
    return sorted({args.scale_in_flight, args.in_flight})


def rows(args: argparse.Namespace) -> list[Row]:
    lat, top = args.latency_ms, args.in_flight
    half = Goal("≥ 0.5 \u00d7 raw", at_least=0.5)
    sdk20 = Goal("≥ 20 \u00d7 SDK", at_least=20)
    linear = Goal("near-linear: ≥ 1.8 \u00d7 x1", at_least=1.8)
    unit = "notifications/s"
    full = not args.lean
    found = [
        Row("dispatcher.l0.raw", f"raw aiohttp loop, {args.concurrency} concurrent", unit),
        Row("dispatcher.l0.raw.cpu_us", "raw aiohttp loop CPU per send", "µs"),
        Row("dispatcher.l0.sdk", "firebase-admin send_each_async loop", unit),
        Row("dispatcher.l0.x1", "dispatcher x1", unit, "dispatcher.l0.raw", half),
        Row("dispatcher.l0.x1", "dispatcher x1 vs the SDK path", unit, "dispatcher.l0.sdk", sdk20),
        *([Row("dispatcher.l0.x2", "dispatcher x2 (2 processes)", unit, "dispatcher.l0.raw"),
           Row("dispatcher.l0.x1sdk", "dispatcher x1, firebase-admin sender", unit,
               "dispatcher.l0.sdk")] if full else []),
        Row("dispatcher.l0.x1.cpu_us", "dispatcher x1 CPU per notification", "µs",
            "dispatcher.l0.raw.cpu_us"),
        Row(f"dispatcher.l{lat}.if{top}.raw", f"raw aiohttp loop, {top} concurrent, {lat} ms",
            unit),
        Row(f"dispatcher.l{lat}.sdk", f"firebase-admin send_each_async loop, {lat} ms", unit),
        Row(f"dispatcher.l{lat}.if{top}.x1", f"dispatcher x1, in-flight {top}, {lat} ms", unit,
            f"dispatcher.l{lat}.if{top}.raw", half),
        Row(f"dispatcher.l{lat}.if{top}.x1", f"dispatcher x1 vs the SDK path, {lat} ms", unit,
            f"dispatcher.l{lat}.sdk", sdk20),
    ]  # fmt: skip
    if full:
        found.append(Row("dispatcher.l0.x2", "dispatcher x2 / x1, no latency", unit,
                         "dispatcher.l0.x1"))  # fmt: skip
        for k in scale_points(args):
            found.append(
                Row(f"dispatcher.l{lat}.if{k}.x2", f"dispatcher x2, in-flight {k} each, {lat} ms",
                    unit, f"dispatcher.l{lat}.if{k}.x1",
                    linear if k == args.scale_in_flight else None)
            )  # fmt: skip
    for k in sweep_points(args):
        if k != top:
            found += [
                Row(f"dispatcher.l{lat}.if{k}.raw", f"raw aiohttp loop, {k} concurrent, {lat} ms",
                    unit),
                Row(f"dispatcher.l{lat}.if{k}.x1", f"dispatcher x1, in-flight {k}, {lat} ms", unit,
                    f"dispatcher.l{lat}.if{k}.raw"),
            ]  # fmt: skip
    return found


async def main_async(args: argparse.Namespace) -> Results:
    results = Results(
        bench="dispatcher",
        title="Dispatcher: notifications a second, Kafka in → FCM emulator → reports out",
        command=command_line("bench.dispatcher_bench"),
        sizes={
            "messages per scenario": args.messages,
            "messages through the SDK": args.sdk_messages,
            "injected latency (ms)": args.latency_ms,
            "raw loop concurrency / dispatcher in-flight, no latency": args.concurrency,
            "in-flight limits with latency": ", ".join(map(str, sweep_points(args))),
            "in-flight limits with latency, 2 processes": ", ".join(map(str, scale_points(args))),
            "runs": args.repeat,
        },
        rows=rows(args),
    )
    with tempfile.TemporaryDirectory(prefix="dispatcher-bench-") as folder:
        async with emulator(Path(folder)) as fcm:
            await execute(plan(args), Context(args, fcm, results, Path(folder) / "dispatcher.log"))
    return results


def main() -> None:
    args = build_parser().parse_args()
    finish(asyncio.run(main_async(args)), args.json)


if __name__ == "__main__":
    main()
