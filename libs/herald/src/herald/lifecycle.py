"""Process lifecycle: a stop event set by SIGTERM/SIGINT, and a bounded drain."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from herald.eventloop import EventLoopChoice, loop_factory

log = logging.getLogger(__name__)


def stop_on_signals() -> asyncio.Event:
    """Return an event that SIGTERM or SIGINT sets (call from inside the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):

        def on_signal(sig: signal.Signals = sig) -> None:
            log.info("received %s: stopping", sig.name)
            stop.set()

        loop.add_signal_handler(sig, on_signal)
    return stop


def run(
    main: Callable[[asyncio.Event], Awaitable[None]], event_loop: EventLoopChoice = "auto"
) -> None:
    """Run ``main(stop)`` on the chosen event loop until it returns; SIGTERM/SIGINT set
    ``stop``."""
    name, factory = loop_factory(event_loop)
    log.info("event loop: %s", name)

    async def runner() -> None:
        await main(stop_on_signals())

    with asyncio.Runner(loop_factory=factory) as loop_runner:
        loop_runner.run(runner())


async def drain(tasks: set[asyncio.Task[None]], grace_s: float, what: str) -> None:
    """Wait up to ``grace_s`` for ``tasks``; cancel and log whatever is still running."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=grace_s)
    if pending:
        log.warning("cancelling %d unfinished %s after %.1fs", len(pending), what, grace_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
