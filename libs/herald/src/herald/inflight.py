"""Batches handled while the next ones are fetched: which offsets may be committed, in order.

A consumer with several batches in flight commits each one only once it and every batch fetched
before it are settled; a batch its handler could not finish (the process is stopping) commits
each partition up to its first unfinished record, and nothing after that on the partition is
committed, whichever batch it is in.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition

__all__ = ["Batch", "InFlight", "Unfinished", "cancelled", "finished_offsets", "in_order_offsets"]

Batch = dict[TopicPartition, list[Any]]


class Unfinished(Exception):
    """Raised by a batch handler that stops (the process is shutting down) before some records
    have their work done: the consumer commits each partition up to the first of them and no
    further, so they are consumed again after a restart or by another member."""

    def __init__(self, records: set[tuple[str, int, int]], detail: str = "") -> None:
        super().__init__(detail or f"{len(records)} records unfinished")
        # (topic as declared, without the namespace; partition; offset) of each record.
        self.records = records


@dataclass
class InFlight:
    batch: Batch
    # Returns the offsets to commit when the whole batch is done.
    task: asyncio.Task[dict[TopicPartition, int]]


def finished_offsets(
    batch: Batch, unfinished: Unfinished, namespace: str
) -> dict[TopicPartition, int]:
    """Per partition of ``batch``, the offset of its first unfinished record, else the one
    after its last record."""
    offsets: dict[TopicPartition, int] = {}
    for tp, raws in batch.items():
        offset = raws[-1].offset + 1
        topic = tp.topic.removeprefix(namespace)
        for raw in raws:
            if (topic, raw.partition, raw.offset) in unfinished.records:
                offset = raw.offset
                break
        offsets[tp] = offset
    return offsets


def in_order_offsets(
    batch: Batch, done: dict[TopicPartition, int], blocked: set[TopicPartition]
) -> dict[TopicPartition, int]:
    """What to commit of ``batch`` given the offsets its handler finished (``done``): nothing
    on a partition in ``blocked``; a partition not finished to its end joins ``blocked``."""
    offsets: dict[TopicPartition, int] = {}
    for tp, raws in batch.items():
        if tp in blocked:
            continue
        offset = done.get(tp)
        if offset is not None and offset > raws[0].offset:
            offsets[tp] = offset
        if offset != raws[-1].offset + 1:
            blocked.add(tp)
    return offsets


async def cancelled(future: asyncio.Future[Any] | None) -> None:
    """Cancel ``future`` (when given and not done) and wait for it to end."""
    if future is not None and not future.done():
        future.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await future
