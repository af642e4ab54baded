"""End to end: how late a reminder reaches FCM (the emulator's receipt) after its fire time,
through the whole pipeline as ``make run`` starts it: ReminderScheduled records into Kafka, the
scheduler, the dispatcher (tokens registered through the token-api), the FCM emulator.

Uses Redis DBs 12 and 13 (only its own keys are deleted), a database and topics of its own.
The dispatcher ramps its send rate up over its first 60 s, as FCM asks of new senders; the
measured runs start after that, and the baseline runs (a plain sender straight to the
emulator) fill the wait.

    uv run python -m bench.e2e_bench [--rates 1000 5000] [--seconds 5] [--users 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

if __package__ in (None, ""):  # run as a file: python bench/e2e_bench.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import e2e_loops as loops
from bench.cli import Step, add_common, command_line, execute, finish, runs
from bench.common import BOOTSTRAP, now_ms, step, thin
from bench.e2e_stack import register_users, running_stack
from bench.results import Goal, Results, Row
from fcm_emulator.client import EmulatorClient
from herald.producer import Producer
from herald_dev.stack import Stack
from herald_dispatcher.settings import DispatcherSettings

SERIES_POINTS = 2000
START_LABEL = "end to end: start the stack (emulator, token-api, scheduler, dispatcher)"


@dataclass
class Context:
    args: argparse.Namespace
    stack: Stack
    fcm: EmulatorClient
    producer: Producer
    results: Results
    first_send: float = field(default_factory=time.monotonic)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[1000, 5000], help="due/s")
    parser.add_argument("--seconds", type=float, default=5, help="length of each run")
    parser.add_argument("--users", type=int, default=1000, help="one browser target each")
    parser.add_argument(
        "--ramp-wait-s",
        type=float,
        default=ramp_up_s(),
        help="measure only this long after the first send (the dispatcher's ramp-up)",
    )
    add_common(parser)
    return parser


def ramp_up_s() -> float:
    default = DispatcherSettings.model_fields["rate_ramp_up_s"].default
    return float(default)


async def warm_up(ctx: Context) -> None:
    users = ctx.args.users
    await register_users(ctx.stack, users)
    await ctx.stack.wait_projected([f"user-{n}" for n in range(users)], timeout_s=120)
    since_s, before = time.time(), await loops.accepted(ctx.fcm)
    ctx.first_send = time.monotonic() + 1
    await loops.schedule(ctx.producer, "warm-up", users, [now_ms() + 1000] * users)
    late = await loops.lateness_of(ctx.fcm, "warm-up", since_s, users, before, 120)
    if len(late) < users:
        raise RuntimeError(f"warm-up: {len(late)} of {users} reminders reached the emulator")


async def baseline(ctx: Context, run: int, rate: int) -> None:
    config, tag = ctx.stack.config, f"raw-{rate}-{run}"
    count = int(rate * min(ctx.args.seconds, 3))
    account = {k: str(v) for k, v in json.loads(config.service_account_path.read_text()).items()}
    since_s, before = time.time(), await loops.accepted(ctx.fcm)
    fire_at = loops.fire_times(now_ms() + 300, rate, count)
    await loops.raw_direct(config.emulator_url, account, config.project_id, tag, fire_at)
    late = await loops.lateness_of(ctx.fcm, tag, since_s, count, before, 30)
    for name, value in loops.quantiles(late).items():
        ctx.results.add(f"e2e.raw.{rate}.{name}", run, value)
    ctx.results.series[f"e2e.raw.{rate}.run{run}"] = thin(late, SERIES_POINTS)


async def ramp_wait(ctx: Context) -> None:
    left_s = ctx.first_send + ctx.args.ramp_wait_s - time.monotonic()
    if left_s > 0:
        await asyncio.sleep(left_s)


async def pipeline(ctx: Context, run: int, rate: int) -> None:
    a, tag = ctx.args, f"e2e-{rate}-{run}"
    count = int(rate * a.seconds)
    # Ahead enough that the reminders are in Kafka and the scheduler before they fall due.
    lead_ms = 2000 + count // 4
    since_s, before = time.time(), await loops.accepted(ctx.fcm)
    fire_at = loops.fire_times(now_ms() + lead_ms, rate, count)
    await loops.schedule(ctx.producer, tag, a.users, fire_at)
    timeout_s = lead_ms / 1000 + a.seconds + 60
    late = await loops.lateness_of(ctx.fcm, tag, since_s, count, before, timeout_s)
    if len(late) < count:
        ctx.results.remarks.append(f"{tag}: only {len(late)} of {count} reached the emulator")
    for name, value in loops.quantiles(late).items():
        ctx.results.add(f"e2e.late.{rate}.{name}", run, value)
    ctx.results.add(f"e2e.late.{rate}.delivered", run, 100 * len(late) / count)
    ctx.results.series[f"e2e.late.{rate}.run{run}"] = thin(late, SERIES_POINTS)


def plan(args: argparse.Namespace) -> list[Step[Context]]:
    steps: list[Step[Context]] = [
        Step(f"end to end: register {args.users:,} users through the token-api, warm up", warm_up)
    ]
    steps += [
        Step(f"end to end: raw sender to the emulator, {rate:,}/s, {of}",
             partial(baseline, run=run, rate=rate))
        for run, of in runs(args.repeat) for rate in args.rates
    ]  # fmt: skip
    steps.append(
        Step(f"end to end: wait out the dispatcher's ramp-up ({args.ramp_wait_s:.0f} s)", ramp_wait)
    )
    steps += [
        Step(f"end to end lateness {rate:,} due/s, {of}", partial(pipeline, run=run, rate=rate))
        for run, of in runs(args.repeat) for rate in args.rates
    ]  # fmt: skip
    return steps


def labels(args: argparse.Namespace) -> list[str]:
    return [START_LABEL, *(s.label for s in plan(args))]


def rows(args: argparse.Namespace) -> list[Row]:
    found = []
    for rate in args.rates:
        goal = Goal("≤ 100 ms", on="value", at_most=100) if rate == 5000 else None
        found += [
            Row(f"e2e.late.{rate}.p50", f"fire time → FCM p50 at {rate:,} due/s", "ms",
                f"e2e.raw.{rate}.p50", digits=1),
            Row(f"e2e.late.{rate}.p99", f"fire time → FCM p99 at {rate:,} due/s", "ms",
                f"e2e.raw.{rate}.p99", goal, digits=1),
            Row(f"e2e.late.{rate}.max", f"fire time → FCM max at {rate:,} due/s", "ms"),
            Row(f"e2e.late.{rate}.delivered", f"reached the emulator at {rate:,} due/s", "%",
                digits=1),
            *(Row(f"e2e.raw.{rate}.{q}", f"floor: sleep-until + POST to the emulator {q}, "
                  f"{rate:,}/s", "ms", digits=1) for q in ("p50", "p99")),
        ]  # fmt: skip
    return found


async def main_async(args: argparse.Namespace) -> Results:
    results = Results(
        bench="e2e",
        title="End to end: fire time → FCM emulator receipt, the whole pipeline",
        command=command_line("bench.e2e_bench"),
        sizes={
            "due rates (/s)": ", ".join(map(str, args.rates)),
            "run length (s)": args.seconds,
            "users (one web target each, registered through the token-api)": args.users,
            "measured from the first send on (dispatcher ramp-up, s)": args.ramp_wait_s,
            "runs": args.repeat,
        },
        rows=rows(args),
    )
    step(START_LABEL)
    with tempfile.TemporaryDirectory(prefix="e2e-bench-") as folder:
        async with running_stack(Path(folder)) as stack:
            namespace = stack.config.namespace
            async with (
                EmulatorClient(stack.config.emulator_url, timeout_s=60) as fcm,
                Producer(BOOTSTRAP, namespace=namespace, client_id="bench") as producer,
            ):
                await execute(plan(args), Context(args, stack, fcm, producer, results))
    return results


def main() -> None:
    args = build_parser().parse_args()
    finish(asyncio.run(main_async(args)), args.json)


if __name__ == "__main__":
    main()
