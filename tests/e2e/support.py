"""Helpers for the end-to-end tests: waiting, the stack's database, reading what was sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import asyncpg  # type: ignore[import-untyped,unused-ignore]

T = TypeVar("T")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCHEDULER_REDIS_DB = 3
DISPATCHER_REDIS_DB = 4


async def until(
    check: Callable[[], Awaitable[T]], accept: Callable[[T], bool], timeout_s: float, what: str
) -> T:
    """Call ``check`` until ``accept`` takes its result; fail naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = await check()
        if accept(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s (last: {found!r})")
        await asyncio.sleep(0.1)


async def targets_of(database_url: str, user_id: str) -> list[str]:
    """The user's targets in the token-api's table."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT target FROM push_tokens WHERE user_id = $1 ORDER BY target", user_id
        )
    finally:
        await connection.close()
    return [str(r["target"]) for r in rows]
