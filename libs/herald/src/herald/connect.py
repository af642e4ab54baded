"""Bounded retries for connecting to dependencies, so pods survive starting in any order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


async def with_retries(
    what: str, connect: Callable[[], Awaitable[T]], attempts: int, delay_s: float
) -> T:
    """Call ``connect`` until it succeeds, at most ``attempts`` times, warning on each failure."""
    for attempt in range(1, attempts + 1):
        try:
            return await connect()
        except Exception as exc:
            if attempt == attempts:
                raise
            log.warning(
                "cannot reach %s (attempt %d/%d): %s",
                what,
                attempt,
                attempts,
                str(exc) or repr(exc),
            )
            await asyncio.sleep(delay_s)
    raise AssertionError("unreachable")
