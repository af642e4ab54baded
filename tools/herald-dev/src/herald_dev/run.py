"""herald-run: Herald on this machine (infrastructure, topics, database, the FCM emulator, the
three services and the demo page), then a short scenario in the terminal; up until Ctrl-C or
SIGTERM, when it stops everything it started. With --once it exits after the scenario."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

from herald_dev.demo_server import DemoConfig, serving
from herald_dev.layout import INFRA_SCRIPT, StateDirs, find_root
from herald_dev.progress import PartFailed, Progress
from herald_dev.scenario import run_scenario
from herald_dev.stack import HOST, Ports, Stack, StackConfig

T = TypeVar("T")
ALIVE_CHECK_S = 1.0


class Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived before the step was done."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = Ports()
    parser = argparse.ArgumentParser(prog="herald-run", description=__doc__)
    parser.add_argument("--once", action="store_true", help="stop everything after the scenario")
    parser.add_argument(
        "--state-dir", type=Path, help="credentials and logs (default: <checkout>/.herald)"
    )
    parser.add_argument("--namespace", default="", help="topic namespace (default: none)")
    parser.add_argument("--database", default="herald", help="PostgreSQL database (created)")
    parser.add_argument("--scheduler-redis-db", type=int, default=0, metavar="N")
    parser.add_argument("--dispatcher-redis-db", type=int, default=0, metavar="N")
    parser.add_argument("--api-port", type=int, default=defaults.api)
    parser.add_argument("--emulator-port", type=int, default=defaults.emulator)
    parser.add_argument("--scheduler-port", type=int, default=defaults.scheduler)
    parser.add_argument("--dispatcher-port", type=int, default=defaults.dispatcher)
    parser.add_argument("--demo-port", type=int, default=defaults.demo)
    parser.add_argument(
        "--scenario-delay-s", type=float, default=5.0, help="how far out the reminder is set"
    )
    parser.add_argument("--ready-timeout-s", type=float, default=60.0)
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace, root: Path) -> StackConfig:
    ports = Ports(
        args.api_port, args.emulator_port, args.scheduler_port, args.dispatcher_port, args.demo_port
    )
    config = StackConfig(
        state=StateDirs(args.state_dir or root / ".herald"),
        ports=ports,
        namespace=args.namespace,
        scheduler_redis_db=args.scheduler_redis_db,
        dispatcher_redis_db=args.dispatcher_redis_db,
        ready_timeout_s=args.ready_timeout_s,
    )
    return config.with_database(args.database)


async def until_stopped(work: Awaitable[T], stop: asyncio.Event) -> T:
    """``work``'s result, or Interrupted (with ``work`` cancelled) once ``stop`` is set."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    raise Interrupted


async def infra_up(root: Path, state: StateDirs, progress: Progress) -> None:
    """``deploy/local/infra.sh up``, its output shown indented and kept in its log."""
    log = state.log("infra")
    log.parent.mkdir(parents=True, exist_ok=True)
    process = await asyncio.create_subprocess_exec(
        str(root / INFRA_SCRIPT),
        "up",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    try:
        with log.open("wb") as out:
            async for line in process.stdout:
                out.write(line)
                progress.say("      " + line.decode(errors="replace").rstrip())
        code = await process.wait()
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            await process.wait()
    if code != 0:
        raise PartFailed("infrastructure", f"{INFRA_SCRIPT} up exited with code {code}", log)


async def watch(stack: Stack, stop: asyncio.Event) -> None:
    """Return when ``stop`` is set; PartFailed when a child stops by itself first."""
    while not stop.is_set():
        stack.check_alive()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), ALIVE_CHECK_S)


async def session(args: argparse.Namespace, stop: asyncio.Event, progress: Progress) -> int:
    root = find_root()
    config = build_config(args, root)
    progress.say(
        f"herald-run: Herald on this machine (credentials and logs in {config.state.root})"
    )
    stack = Stack(config, progress)
    demo = DemoConfig(
        web_dir=root / "web",
        api_url=config.api_url,
        emulator_url=config.emulator_url,
        project_id=config.project_id,
        kafka_bootstrap=config.kafka_bootstrap,
        namespace=config.namespace,
        credentials=stack.credentials,
    )
    try:
        async with contextlib.AsyncExitStack() as running:
            running.push_async_callback(_stop_all, stack, progress)
            stack.check_ports()
            with progress.step("infrastructure: Kafka, Redis, PostgreSQL"):
                await until_stopped(infra_up(root, config.state, progress), stop)
            await until_stopped(stack.prepare(), stop)
            await until_stopped(stack.start(), stop)
            with progress.step(f"demo page on {config.demo_url}"):
                await running.enter_async_context(serving(demo, HOST, config.ports.demo))
            progress.say(f"\n  Demo page: {config.demo_url}/  (development only)\n")
            progress.say("  The scenario: a browser, a reminder, a notification")
            await until_stopped(run_scenario(stack, progress, args.scenario_delay_s), stop)
            if args.once:
                return 0
            progress.say(f"\n  Herald is up. Open {config.demo_url}/ — Ctrl-C stops everything.\n")
            await watch(stack, stop)
            return 0
    except PartFailed as failure:
        progress.failed(failure)
        return 1
    except Interrupted:
        progress.say("  interrupted")
        return 130


async def _stop_all(stack: Stack, progress: Progress) -> None:
    codes = await stack.stop()
    if codes:
        stopped = ", ".join(f"{name} ({code})" for name, code in codes)
        progress.say(f"  stopped: {stopped}")


async def amain(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return await session(args, stop, Progress())


def main(argv: list[str] | None = None) -> None:
    sys.exit(asyncio.run(amain(parse_args(argv))))


if __name__ == "__main__":
    main()
