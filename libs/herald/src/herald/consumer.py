"""A Kafka consumer loop that decodes protobuf events, dead-letters what it cannot process, and
commits an offset only after the handler finished the records it covers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter as Tally
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError
from google.protobuf.message import Message
from prometheus_client import Counter

from herald import topics
from herald.codec import InvalidRecord, decode
from herald.connect import with_retries
from herald.inflight import (
    Batch,
    InFlight,
    Unfinished,
    cancelled,
    finished_offsets,
    in_order_offsets,
)
from herald.producer import Producer
from herald.tracing import reset_trace_id, set_trace_id

log = logging.getLogger(__name__)

RECORDS = Counter(
    "herald_consumer_records_total",
    "Records a consumer finished, by outcome (ok, dead_lettered).",
    ["group", "topic", "outcome"],
)
HANDLER_FAILURES = Counter(
    "herald_consumer_handler_failures_total",
    "Handler errors; the record is retried after a backoff and its offset stays uncommitted.",
    ["group", "topic"],
)


@dataclass(frozen=True)
class Record:
    # The topic's declared name, without the namespace prefix.
    topic: str
    partition: int
    offset: int
    key: str | None
    # None for a tombstone.
    message: Message | None
    trace_id: str | None
    timestamp_ms: int


RecordHandler = Callable[[Record], Awaitable[None]]
BatchHandler = Callable[[list[Record]], Awaitable[None]]


def _header(raw: Any, name: str) -> str | None:
    for key, value in raw.headers or ():
        if key == name:
            return bytes(value).decode("utf-8", "replace")
    return None


class Consumer:
    """Consumes ``topics`` as part of ``group_id`` and hands each record to a handler.

    A handler that raises ``InvalidRecord`` sends the record to the dead-letter topic and the
    consumer goes on. Any other exception means "try again": the partition is rewound to the
    failed record, nothing past it is committed, and it is retried after a growing backoff.
    With ``batch_handler`` the whole fetched batch is handed over at once instead; with
    ``batches_in_flight`` > 1 and a backlog the next batch is fetched and handed over while the
    earlier ones are still being handled (their work overlaps), and each batch is committed once
    it and every batch before it finished.
    """

    def __init__(
        self,
        subscribe: Sequence[topics.Topic],
        *,
        bootstrap: str,
        group_id: str,
        producer: Producer,
        namespace: str = "",
        handler: RecordHandler | None = None,
        batch_handler: BatchHandler | None = None,
        accepts: frozenset[str] | None = None,
        listener: ConsumerRebalanceListener | None = None,
        max_records: int = 500,
        batches_in_flight: int = 1,
        retry_backoff_s: tuple[float, float] = (0.2, 30.0),
        connect_attempts: int = 30,
        connect_retry_delay_s: float = 1.0,
        **options: Any,
    ) -> None:
        if (handler is None) == (batch_handler is None):
            raise ValueError("give exactly one of handler and batch_handler")
        if batches_in_flight < 1 or (batches_in_flight > 1 and batch_handler is None):
            raise ValueError("batches_in_flight > 1 needs a batch_handler")
        self.namespace = namespace
        self._topics = [namespace + t.name for t in subscribe]
        self._accepts = accepts or frozenset(
            cls.DESCRIPTOR.full_name for t in subscribe for cls in t.message_types
        )
        self.group_id = group_id
        self._producer = producer
        self._handler = handler
        self._batch_handler = batch_handler
        self._listener = listener
        self._max_records = max_records
        self._batches_in_flight = batches_in_flight
        self._backoff_min_s, self._backoff_max_s = retry_backoff_s
        self._backoff_s = 0.0
        self._connect = (connect_attempts, connect_retry_delay_s)
        options.setdefault("auto_offset_reset", "earliest")
        self.kafka = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group_id,
            enable_auto_commit=False,
            **options,
        )
        self._started = False

    async def start(self) -> None:
        if self._started:
            return
        try:
            await with_retries("Kafka (consumer)", self.kafka.start, *self._connect)
        except BaseException:
            await self.kafka.stop()
            raise
        if self._listener is not None:
            self.kafka.subscribe(self._topics, listener=self._listener)
        else:
            self.kafka.subscribe(self._topics)
        self._started = True

    async def stop(self) -> None:
        if self._started:
            self._started = False
            await self.kafka.stop()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; the batch in hand is finished and committed first."""
        stopping = asyncio.ensure_future(stop.wait())
        try:
            starting = asyncio.ensure_future(self.start())
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
                return
            starting.result()
            if self._batches_in_flight > 1:
                await self._run_overlapped(stop, stopping)
                return
            while not stop.is_set():
                fetch = asyncio.ensure_future(self._fetch())
                await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    fetch.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await fetch
                    break
                try:
                    await self.process(fetch.result())
                finally:
                    self._resume_fetching()
                if self._backoff_s:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(stopping), self._backoff_s)
        finally:
            stopping.cancel()
            await self.stop()

    async def _fetch(self) -> Batch:
        """The next batch. One that reached the end of its partitions (the consumer is caught
        up) pauses fetching until it is handled. Otherwise aiokafka fetches again as soon as a
        batch is taken, so the next batch is fetched while this one starts and is handed over
        after it, stale by a whole batch: what reaches Kafka meanwhile waits for the batch
        after next. Paused, the next fetch leaves when this batch is done (with its commit)
        and brings everything that arrived while it was handled. With a backlog, fetching
        ahead is what keeps the loop busy, so it goes on."""
        batch: Batch = await self.kafka.getmany(timeout_ms=1000, max_records=self._max_records)
        if batch and self._caught_up(batch):
            self.kafka.pause(*self.kafka.assignment())
        return batch

    def _caught_up(self, batch: Batch) -> bool:
        """Whether ``batch`` ends where Kafka last said each of its partitions ended."""
        if sum(len(raws) for raws in batch.values()) >= self._max_records:
            return False
        for tp, raws in batch.items():
            end = self.kafka.highwater(tp)
            if end is None or raws[-1].offset + 1 < end:
                return False
        return True

    def _resume_fetching(self) -> None:
        paused = self.kafka.paused()
        if paused:
            self.kafka.resume(*paused)

    async def _run_overlapped(self, stop: asyncio.Event, stopping: asyncio.Future[Any]) -> None:
        """With a backlog, fetch while up to ``batches_in_flight`` batches are being handled;
        finish them in fetch order. A failed batch waits for the ones after it, then all of them
        are fetched again (uncommitted) after the backoff."""
        handler = self._batch_handler
        assert handler is not None
        pending: deque[InFlight] = deque()
        # Partitions with an unfinished record (stopping): nothing past it is committed.
        blocked: set[TopicPartition] = set()
        fetch: asyncio.Future[dict[TopicPartition, list[Any]]] | None = None
        # Whether the last batch left records behind it. Only then is the next batch fetched
        # while earlier ones are handled; a caught-up consumer waits for its batch (fetching
        # paused, see _fetch), as with one batch in flight, so that what arrives meanwhile comes
        # in one fresh fetch instead of in small batches queued behind it.
        backlog = False
        try:
            while pending or not stop.is_set():
                if (
                    fetch is None
                    and not stop.is_set()
                    and len(pending) < self._batches_in_flight
                    and (backlog or not pending)
                ):
                    self._resume_fetching()
                    fetch = asyncio.ensure_future(self._fetch())
                waits: set[asyncio.Future[Any]] = set()
                if not stop.is_set():
                    waits.add(stopping)
                if fetch is not None:
                    waits.add(fetch)
                if pending:
                    waits.add(pending[0].task)
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                if pending and pending[0].task.done():
                    oldest = pending.popleft()
                    error = oldest.task.exception()
                    if error is None or isinstance(error, Unfinished) or blocked:
                        await self._commit(self._in_order(oldest, blocked))
                        continue
                    # Failed: what was fetched after it is finished, then fetched again. A
                    # fetch under way is awaited, not cancelled: it may have moved positions
                    # already, and its records are rewound with the rest.
                    rewind = [oldest.batch, *(p.batch for p in pending)]
                    if fetch is not None:
                        fetched, fetch = await fetch, None
                        if fetched:
                            rewind.append(fetched)
                    if pending:
                        await asyncio.wait([p.task for p in pending])
                    self._failed(error, rewind)
                    pending.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(stopping), self._backoff_s)
                    continue
                if fetch is not None and fetch.done():
                    batch, fetch = fetch.result(), None
                    if batch:
                        backlog = not self.kafka.paused()
                        task = asyncio.ensure_future(self._handle_batch(batch, handler))
                        pending.append(InFlight(batch, task))
                if stop.is_set():
                    await cancelled(fetch)
                    fetch = None
        finally:
            await cancelled(fetch)
            for left in pending:
                left.task.cancel()
            if pending:
                await asyncio.wait([p.task for p in pending])

    def _in_order(
        self, finished: InFlight, blocked: set[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """Offsets to commit for a batch whose predecessors are all settled."""
        error = finished.task.exception()
        if error is None:
            self._backoff_s = 0.0
            done = finished.task.result()
        elif isinstance(error, Unfinished):
            done = finished_offsets(finished.batch, error, self.namespace)
        else:
            done = {}
        return in_order_offsets(finished.batch, done, blocked)

    def _failed(self, error: BaseException, batches: list[Batch]) -> None:
        """Log the failure, rewind every partition of ``batches`` to its first record in them
        and grow the backoff."""
        first: dict[TopicPartition, int] = {}
        for batch in batches:
            for tp, raws in batch.items():
                first[tp] = min(first.get(tp, raws[0].offset), raws[0].offset)
        HANDLER_FAILURES.labels(self.group_id, next(iter(first)).topic).inc()
        log.error(
            "batch handler failed; will retry",
            exc_info=error,
            extra={"records": sum(len(r) for b in batches for r in b.values())},
        )
        for tp, offset in first.items():
            self.kafka.seek(tp, offset)
        self._backoff_s = min(max(self._backoff_s * 2, self._backoff_min_s), self._backoff_max_s)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        if not offsets:
            return
        try:
            await self.kafka.commit(offsets)
        except CommitFailedError as exc:
            # The partitions moved to another member, which re-reads from the last commit.
            log.warning("commit failed after a rebalance: %s", exc)

    async def process(self, batch: dict[TopicPartition, list[Any]]) -> None:
        """Handle one fetched batch and commit what it finished."""
        if not batch:
            return
        if self._batch_handler is not None:
            done = await self._process_batch(batch, self._batch_handler)
        else:
            results = await asyncio.gather(
                *(self._process_partition(tp, raws) for tp, raws in batch.items())
            )
            done = {tp: offset for tp, offset in zip(batch, results, strict=True) if offset >= 0}
        failed = any(done.get(tp) != raws[-1].offset + 1 for tp, raws in batch.items())
        self._backoff_s = (
            min(max(self._backoff_s * 2, self._backoff_min_s), self._backoff_max_s)
            if failed
            else 0.0
        )
        # The next fetch travels while the commit does.
        self._resume_fetching()
        await self._commit(done)

    async def _process_partition(self, tp: TopicPartition, raws: list[Any]) -> int:
        """Returns the offset to commit, or -1 when not even the first record was finished."""
        next_offset = -1
        for raw in raws:
            try:
                record = self._decode(raw)
                if self._handler is not None:
                    token = set_trace_id(record.trace_id)
                    try:
                        await self._handler(record)
                    finally:
                        reset_trace_id(token)
                RECORDS.labels(self.group_id, raw.topic, "ok").inc()
            except InvalidRecord as exc:
                await self._dead_letter(raw, exc)
            except Exception:
                HANDLER_FAILURES.labels(self.group_id, raw.topic).inc()
                log.exception(
                    "handler failed; will retry",
                    extra={"topic": raw.topic, "partition": raw.partition, "offset": raw.offset},
                )
                self.kafka.seek(tp, raw.offset)
                break
            next_offset = raw.offset + 1
        return next_offset

    async def _process_batch(
        self, batch: dict[TopicPartition, list[Any]], handler: BatchHandler
    ) -> dict[TopicPartition, int]:
        try:
            return await self._handle_batch(batch, handler)
        except Unfinished as unfinished:
            return finished_offsets(batch, unfinished, self.namespace)
        except Exception:
            HANDLER_FAILURES.labels(self.group_id, next(iter(batch)).topic).inc()
            log.exception(
                "batch handler failed; will retry",
                extra={"records": sum(len(raws) for raws in batch.values())},
            )
            for tp, raws in batch.items():
                self.kafka.seek(tp, raws[0].offset)
            return {}

    async def _handle_batch(
        self, batch: dict[TopicPartition, list[Any]], handler: BatchHandler
    ) -> dict[TopicPartition, int]:
        """Decode (dead-lettering what cannot be), hand over, and return the offsets to commit;
        the handler's exceptions propagate."""
        records = []
        for raws in batch.values():
            for raw in raws:
                try:
                    records.append(self._decode(raw))
                except InvalidRecord as exc:
                    await self._dead_letter(raw, exc)
        if records:
            await handler(records)
        # One labels() lookup per topic and batch, not per record.
        for topic, count in Tally(record.topic for record in records).items():
            RECORDS.labels(self.group_id, topic, "ok").inc(count)
        return {tp: raws[-1].offset + 1 for tp, raws in batch.items()}

    def _decode(self, raw: Any) -> Record:
        key = raw.key.decode("utf-8", "replace") if raw.key is not None else None
        message = None
        if raw.value is not None:
            message = decode(_header(raw, topics.HEADER_TYPE), raw.value, self._accepts)
        return Record(
            topic=raw.topic.removeprefix(self.namespace),
            partition=raw.partition,
            offset=raw.offset,
            key=key,
            message=message,
            trace_id=_header(raw, topics.HEADER_TRACE_ID),
            timestamp_ms=raw.timestamp,
        )

    async def _dead_letter(self, raw: Any, exc: InvalidRecord) -> None:
        log.warning(
            "dead-lettering record: %s",
            exc,
            extra={"topic": raw.topic, "partition": raw.partition, "offset": raw.offset},
        )
        headers = [
            *((k, bytes(v)) for k, v in raw.headers or ()),
            (topics.HEADER_DLQ_REASON, exc.reason.encode()),
            (topics.HEADER_DLQ_DETAIL, exc.detail.encode()[:1000]),
            (topics.HEADER_DLQ_TOPIC, raw.topic.encode()),
            (topics.HEADER_DLQ_PARTITION, str(raw.partition).encode()),
            (topics.HEADER_DLQ_OFFSET, str(raw.offset).encode()),
            (topics.HEADER_DLQ_GROUP, self.group_id.encode()),
        ]
        await (await self._producer.send_raw(topics.DLQ, raw.key, raw.value, headers))
        RECORDS.labels(self.group_id, raw.topic, "dead_lettered").inc()
