"""An idempotent, acks=all Kafka producer writing protobuf events with type and trace headers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from google.protobuf.message import Message

from herald.codec import encode, type_name
from herald.connect import with_retries
from herald.topics import HEADER_TRACE_ID, HEADER_TYPE, Topic
from herald.tracing import current_trace_id, new_trace_id

Headers = Sequence[tuple[str, bytes]]


def event_record(
    message: Message | None, trace_id: str | None = None, headers: Headers = ()
) -> tuple[bytes | None, list[tuple[str, bytes]]]:
    """The value and headers ``Producer.send`` writes for an event (``None``: a tombstone):
    the trace id (given, else the current one, else a new one), ``headers``, the event type."""
    all_headers = [
        (HEADER_TRACE_ID, (trace_id or current_trace_id() or new_trace_id()).encode()),
        *headers,
    ]
    if message is None:
        return None, all_headers
    all_headers.append((HEADER_TYPE, type_name(message).encode()))
    return encode(message), all_headers


# Stateless (murmur2 of the key), so one serves every call on the reports' hot path.
_PARTITIONER = DefaultPartitioner()


class Producer:
    """Wraps AIOKafkaProducer; ``start()`` and ``stop()`` are safe to call twice."""

    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str = "herald",
        namespace: str = "",
        linger_ms: int = 5,
        connect_attempts: int = 30,
        connect_retry_delay_s: float = 1.0,
        **options: Any,
    ) -> None:
        self._kafka = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=linger_ms,
            **options,
        )
        self.namespace = namespace
        self._connect_attempts = connect_attempts
        self._connect_retry_delay_s = connect_retry_delay_s
        self._started = False

    async def start(self) -> None:
        if not self._started:
            try:
                await with_retries(
                    "Kafka (producer)",
                    self._kafka.start,
                    self._connect_attempts,
                    self._connect_retry_delay_s,
                )
            except BaseException:
                await self._kafka.stop()
                raise
            self._started = True

    async def stop(self) -> None:
        """Flush what is buffered, then close."""
        if self._started:
            self._started = False
            await self._kafka.stop()

    async def __aenter__(self) -> Producer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def send(
        self,
        topic: Topic | str,
        key: str | bytes | None,
        message: Message | None,
        *,
        headers: Headers = (),
        trace_id: str | None = None,
    ) -> asyncio.Future[Any]:
        """Queue an event (``None`` writes a tombstone); await the returned future for the ack."""
        value, all_headers = event_record(message, trace_id, headers)
        return await self.send_raw(topic, key, value, all_headers)

    async def send_and_wait(
        self,
        topic: Topic | str,
        key: str | bytes | None,
        message: Message | None,
        *,
        headers: Headers = (),
        trace_id: str | None = None,
    ) -> Any:
        """Send an event and wait until Kafka acknowledged it; returns the RecordMetadata."""
        return await (await self.send(topic, key, message, headers=headers, trace_id=trace_id))

    async def send_raw(
        self, topic: Topic | str, key: str | bytes | None, value: bytes | None, headers: Headers
    ) -> asyncio.Future[Any]:
        """Queue a record as given; the topic name gets the producer's namespace prefix."""
        name = self.namespace + (topic.name if isinstance(topic, Topic) else topic)
        key_bytes = key.encode() if isinstance(key, str) else key
        future: asyncio.Future[Any] = await self._kafka.send(
            name, value=value, key=key_bytes, headers=list(headers)
        )
        return future

    def topic_name(self, topic: Topic | str) -> str:
        """The topic's name on the broker (with the producer's namespace prefix)."""
        return self.namespace + (topic.name if isinstance(topic, Topic) else topic)

    async def partitions(self, topic: Topic | str) -> list[int]:
        """The topic's partitions, sorted (from the producer's metadata)."""
        return sorted(await self._kafka.partitions_for(self.topic_name(topic)))

    @staticmethod
    def partition_for(key: bytes, partitions: Sequence[int]) -> int:
        """The partition ``send`` gives a record with this key (the Java client's murmur2)."""
        return int(_PARTITIONER(key, partitions, partitions))

    def create_batch(self) -> BatchBuilder:
        """An empty record batch for ``send_batch``: appending to it costs a fraction of a
        ``send`` per record."""
        return self._kafka.create_batch()

    async def send_batch(
        self, batch: BatchBuilder, topic: Topic | str, partition: int
    ) -> asyncio.Future[Any]:
        """Queue a filled batch for one partition (closing it); await the returned future for
        the ack of all its records."""
        batch.close()
        future: asyncio.Future[Any] = await self._kafka.send_batch(
            batch, self.topic_name(topic), partition=partition
        )
        return future

    async def flush(self) -> None:
        await self._kafka.flush()
