"""Wall-clock milliseconds and sleeps that end early when the process is stopping."""

from __future__ import annotations

import asyncio
import contextlib
import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def sleep_unless(stop: asyncio.Event, delay_s: float) -> bool:
    """Sleep ``delay_s``; return True at once when ``stop`` is (or gets) set."""
    if stop.is_set():
        return True
    if delay_s <= 0:
        return False
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay_s)
    return stop.is_set()
