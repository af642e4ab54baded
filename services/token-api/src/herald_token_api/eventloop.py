"""The event loop the token-api runs on: uvloop when it is installed, else asyncio's own.

A registration is mostly event-loop and socket work (an HTTP request in, a query out to
PostgreSQL, their answers back, the relay's Kafka traffic); uvloop does that part in C and
lowers the API's CPU per registration with nothing else changed (see the README's benchmark).
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable
from typing import Literal

EventLoopChoice = Literal["auto", "uvloop", "asyncio"]
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def uvloop_available() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def loop_factory(choice: EventLoopChoice) -> tuple[str, LoopFactory]:
    """The loop's name and a factory for it; ``uvloop`` when asked for and missing raises."""
    if choice == "asyncio" or (choice == "auto" and not uvloop_available()):
        return "asyncio", asyncio.new_event_loop
    import uvloop  # type: ignore[import-not-found,unused-ignore]  # optional: auto falls back

    return "uvloop", uvloop.new_event_loop
