"""Publishing whole release batches at once.

The shared ``Producer`` returns a future per record; at tens of thousands of records a second
that bookkeeping costs more than the records. ``BatchProducer`` adds ``send_many``, built on
aiokafka's batch API: what all callers hand over while the previous flush is being sent goes
out together, one batch per partition (chosen by the default partitioner, so a key lands where
``send`` would put it), and each caller gets the offsets of its records once Kafka acked them.
Only one flush adds batches at a time: aiokafka cannot queue batches for one partition from
concurrent callers. The producer stays idempotent with acks=all, as the shared one is.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

from herald.producer import Headers, Producer
from herald.topics import Topic

# key, value (None for a tombstone), headers, and the default partitioner's hash of the key when
# it was computed ahead (prepared.key_hash), else None.
OutRecord = tuple[str, bytes | None, Headers, int | None]

_partitioner = DefaultPartitioner()
_BATCH_BYTES = 256 * 1024
# Keys whose partition is remembered (user ids recur); the memory is dropped when full.
_PARTITION_CACHE_SIZE = 100_000


@dataclass(frozen=True)
class _Request:
    topic: str
    # None: by key, with the default partitioner.
    partition: int | None
    records: Sequence[OutRecord]
    offsets: asyncio.Future[list[int]]


# A batch handed to aiokafka: its delivery future and, per record, (request, index, offset in
# the batch).
_Sent = tuple[asyncio.Future[Any], list[tuple[int, int, int]]]


class BatchProducer(Producer):
    def __init__(self, bootstrap: str, **options: Any) -> None:
        options.setdefault("max_batch_size", _BATCH_BYTES)
        super().__init__(bootstrap, **options)
        self._queue: list[_Request] = []
        self._flusher: asyncio.Task[None] | None = None
        self._acks: set[asyncio.Task[None]] = set()
        # (topic, key) -> (partition count, partition)
        self._partitions: dict[tuple[str, str], tuple[int, int]] = {}

    async def send_many(
        self, topic: Topic, records: Sequence[OutRecord], *, partition: int | None = None
    ) -> list[int]:
        """Publish ``records`` (to ``partition``, else by key) and wait for Kafka's acks;
        returns each record's offset."""
        if not records:
            return []
        offsets: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Request(self.namespace + topic.name, partition, records, offsets))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await offsets

    async def _flush(self) -> None:
        while self._queue:
            requests, self._queue = self._queue, []
            try:
                sent = await self._send(requests)
            except Exception as exc:
                for request in requests:
                    if not request.offsets.done():
                        request.offsets.set_exception(exc)
                continue
            task = asyncio.create_task(self._resolve(requests, sent))
            self._acks.add(task)
            task.add_done_callback(self._acks.discard)

    async def _send(self, requests: list[_Request]) -> list[_Sent]:
        kafka: Any = self._kafka
        groups: defaultdict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
        partitions: dict[str, list[int]] = {}
        for r, request in enumerate(requests):
            if request.partition is not None:
                groups[request.topic, request.partition] += [
                    (r, i) for i in range(len(request.records))
                ]
                continue
            if request.topic not in partitions:
                partitions[request.topic] = sorted(await kafka.partitions_for(request.topic))
            known = partitions[request.topic]
            for i, (key, _, _, hashed) in enumerate(request.records):
                partition = (
                    self._partition(request.topic, key, known)
                    if hashed is None
                    else known[hashed % len(known)]
                )
                groups[request.topic, partition].append((r, i))
        sent: list[_Sent] = []
        for (topic, partition), members in groups.items():
            batch = kafka.create_batch()
            placed: list[tuple[int, int, int]] = []
            for r, i in members:
                key, value, headers, _ = requests[r].records[i]
                meta = batch.append(key=key.encode(), value=value, timestamp=None, headers=headers)
                if meta is None:
                    sent.append((await kafka.send_batch(batch, topic, partition=partition), placed))
                    batch, placed = kafka.create_batch(), []
                    meta = batch.append(
                        key=key.encode(), value=value, timestamp=None, headers=headers
                    )
                    if meta is None:
                        raise ValueError(f"a record of {topic} does not fit in a batch")
                placed.append((r, i, meta.offset))
            sent.append((await kafka.send_batch(batch, topic, partition=partition), placed))
        return sent

    def _partition(self, topic: str, key: str, partitions: list[int]) -> int:
        cached = self._partitions.get((topic, key))
        if cached is not None and cached[0] == len(partitions):
            return cached[1]
        if len(self._partitions) >= _PARTITION_CACHE_SIZE:
            self._partitions.clear()
        partition: int = _partitioner(key.encode(), partitions, partitions)
        self._partitions[topic, key] = (len(partitions), partition)
        return partition

    async def _resolve(self, requests: list[_Request], sent: list[_Sent]) -> None:
        offsets = [[-1] * len(request.records) for request in requests]
        failures: dict[int, BaseException] = {}
        for delivery, placed in sent:
            try:
                base = (await delivery).offset
            except Exception as exc:
                failures.update((r, exc) for r, _, _ in placed)
                continue
            for r, i, relative in placed:
                offsets[r][i] = base + relative
        for r, request in enumerate(requests):
            if request.offsets.done():
                continue
            if r in failures:
                request.offsets.set_exception(failures[r])
            else:
                request.offsets.set_result(offsets[r])
