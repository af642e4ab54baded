"""The workers a batch's deliveries run on: bounded, a spare one for a delivery that waits, and
nothing more taken once stopping."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Awaitable, Callable

from herald_dispatcher.workers import Workers


async def test_a_waiting_item_gets_a_spare_worker_so_the_others_go_on() -> None:
    stop = asyncio.Event()
    done: list[int] = []
    running = 0
    most = 0

    async def work(item: int, spare: Callable[[], None]) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        if item == 0:
            spare()
            await asyncio.sleep(0.3)
        else:
            await asyncio.sleep(0.01)
        running -= 1
        done.append(item)

    workers = Workers(range(6), work, stop)
    await workers.run(1, grace_s=1.0)

    # Item 0 waited on its worker while the spare one took the rest.
    assert done == [1, 2, 3, 4, 5, 0]
    assert most == 2


async def test_once_stopping_no_further_item_is_taken_and_the_rest_is_cancelled() -> None:
    stop = asyncio.Event()
    started: list[int] = []
    finished: list[int] = []

    async def work(item: int, spare: Callable[[], None]) -> None:
        started.append(item)
        if item == 1:
            stop.set()
        await asyncio.sleep(5.0 if item == 0 else 0.01)
        finished.append(item)

    await Workers(range(10), work, stop).run(2, grace_s=0.2)

    assert started == [0, 1]
    # Item 1 finished within the grace period; item 0 did not and was cancelled.
    assert finished == [1]


class _Outcome:
    pass


async def test_a_finished_run_leaves_nothing_to_the_garbage_collector() -> None:
    """``work`` gets ``spare`` as an argument, so it needs no reference to the Workers: what
    it holds (a batch's outcomes, and through them its notifications) is freed with it, by
    reference counting, instead of waiting in a cycle for the collector."""
    gc.collect()
    gc.disable()
    try:
        ended: list[_Outcome | None] = [None] * 6
        work = _recording_in(ended)
        workers = Workers(range(6), work, asyncio.Event())
        await workers.run(2, grace_s=1.0)
        freed = [weakref.ref(outcome) for outcome in ended if outcome is not None]
        assert len(freed) == 6
        del ended, workers, work
        assert [ref() for ref in freed] == [None] * 6
    finally:
        gc.enable()


def _recording_in(
    ended: list[_Outcome | None],
) -> Callable[[int, Callable[[], None]], Awaitable[None]]:
    async def work(index: int, spare: Callable[[], None]) -> None:
        if index == 0:
            spare()
        await asyncio.sleep(0)
        ended[index] = _Outcome()

    return work
