"""Records of one topic written in record batches per partition.

``Producer.send`` costs aiokafka a partitioner call, a future and an accumulator entry per
record (for the dispatcher's delivery reports, one record per send, that was a tenth of its
CPU). Here records go straight into one batch per partition, handed to the producer when it is
full, after the producer's linger, or when the caller flushes; every record of a batch shares
its acknowledgement.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka.producer.message_accumulator import BatchBuilder

from herald.producer import Producer
from herald.topics import Topic


class _Open:
    __slots__ = ("acked", "batch", "records")

    def __init__(self, batch: BatchBuilder) -> None:
        self.batch = batch
        self.records = 0
        self.acked: asyncio.Future[Any] = asyncio.get_running_loop().create_future()


class BatchWriter:
    """``add`` is synchronous and returns the future of the record's acknowledgement; call
    ``refresh_partitions`` once before adding (and again now and then: partitions can be
    added), and ``flush`` before waiting for the futures to hand over what is still open."""

    def __init__(self, producer: Producer, topic: Topic, *, linger_s: float) -> None:
        self._producer = producer
        self._topic = topic
        self._linger_s = linger_s
        self._partitions: list[int] = []
        self._open: dict[int, _Open] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()

    async def refresh_partitions(self) -> None:
        self._partitions = await self._producer.partitions(self._topic)

    def add(
        self,
        key: bytes,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
        timestamp_ms: int | None = None,
    ) -> asyncio.Future[Any]:
        """Queue a record (``value`` None: a tombstone; ``timestamp_ms`` None: now); ValueError
        when it does not fit in a batch at all."""
        if not self._partitions:
            raise RuntimeError("refresh_partitions() first")
        partition = self._producer.partition_for(key, self._partitions)
        current = self._open.get(partition)
        if current is None:
            current = self._open[partition] = _Open(self._producer.create_batch())
        if current.batch.append(key=key, value=value, headers=headers, timestamp=timestamp_ms):
            current.records += 1
            if self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(self._linger_s, self.flush)
            return current.acked
        if not current.records:
            raise ValueError("the record does not fit in a batch")
        # Full: hand it over and start the next one.
        self._submit(partition, self._open.pop(partition))
        return self.add(key, value, headers, timestamp_ms)

    def flush(self) -> None:
        """Hand every open batch to the producer now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        opened, self._open = self._open, {}
        for partition, current in opened.items():
            self._submit(partition, current)

    def _submit(self, partition: int, current: _Open) -> None:
        task = asyncio.ensure_future(self._send(partition, current))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, partition: int, current: _Open) -> None:
        try:
            acked = await self._producer.send_batch(current.batch, self._topic, partition)
            result = await acked
        except Exception as exc:
            if not current.acked.done():
                current.acked.set_exception(exc)
            return
        if not current.acked.done():
            current.acked.set_result(result)
