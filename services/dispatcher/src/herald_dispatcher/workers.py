"""A batch's deliveries run by a bounded number of worker coroutines, each taking the next one
when it is done with its own: a task per delivery (and a semaphore waiter for most of them) cost
more than the delivery's send."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

from herald import lifecycle

T = TypeVar("T")


class Workers(Generic[T]):
    """``await Workers(items, work, stop).run(count, grace_s)`` returns once every item was
    worked on, or once ``stop`` is set and the workers finished within ``grace_s`` (or were
    cancelled); ``work(item, spare)`` must not raise. Once stopping, no worker takes a further
    item.

    ``work`` gets ``spare`` as an argument rather than reaching this object through a closure:
    that would be a reference cycle, and the batch's items and outcomes, which ``work`` holds,
    would then wait for the garbage collector instead of being freed when the batch is done."""

    def __init__(
        self,
        items: Iterable[T],
        work: Callable[[T, Callable[[], None]], Awaitable[None]],
        stop: asyncio.Event,
    ) -> None:
        self._items = iter(items)
        self._work = work
        self._stop = stop
        self._running: set[asyncio.Task[None]] = set()
        self._idle: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def spare(self) -> None:
        """Start one more worker: called by one about to wait a while (an in-process retry),
        so the items behind it do not wait too."""
        task = asyncio.ensure_future(self._take())
        self._running.add(task)
        task.add_done_callback(self._ended)

    async def run(self, count: int, grace_s: float) -> None:
        for _ in range(count):
            self.spare()
        if not self._running:
            return
        stopping: asyncio.Future[Any] = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({self._idle, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if self._running:
            await lifecycle.drain(set(self._running), grace_s, "delivery workers")

    async def _take(self) -> None:
        for item in self._items:
            if self._stop.is_set():
                return
            await self._work(item, self.spare)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not self._running and not self._idle.done():
            self._idle.set_result(None)
