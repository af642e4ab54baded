"""The event loop a service runs on: uvloop when it is installed (it is a dependency on Linux and
macOS), else asyncio's own. A Herald service is mostly event-loop and socket work (HTTP, Kafka,
Redis and PostgreSQL traffic); uvloop does that part in C and lowers the CPU per request or
record with nothing else changed. ``HERALD_EVENT_LOOP=asyncio`` opts out."""

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
    import uvloop

    return "uvloop", uvloop.new_event_loop
