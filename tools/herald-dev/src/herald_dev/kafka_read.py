"""Reading Herald's topics without a consumer group: a range of records by time, or a tail."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from herald.topics import HEADER_TYPE

POLL_MS = 200


@dataclass(frozen=True)
class RawRecord:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", "replace")
        return None

    @property
    def type_name(self) -> str | None:
        return self.header(HEADER_TYPE)


def _raw(record: Any) -> RawRecord:
    """From an aiokafka ConsumerRecord."""
    return RawRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp,
        key=record.key,
        value=record.value,
        headers=tuple((k, bytes(v)) for k, v in record.headers or ()),
    )


async def partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="herald-dev")
    await admin.start()
    try:
        (metadata,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if metadata["error_code"] != 0:
        raise LookupError(f"topic {topic} does not exist")
    return [TopicPartition(topic, p["partition"]) for p in metadata["partitions"]]


async def read_range(
    bootstrap: str, topic: str, since_ms: int | None = None, timeout_s: float = 30.0
) -> list[RawRecord]:
    """Every record of ``topic`` from ``since_ms`` (or the beginning) up to the end offsets as
    they were when called, in partition and offset order."""
    tps = await partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        if since_ms is not None:
            found = await consumer.offsets_for_times({tp: since_ms for tp in tps})
            starts = {tp: ends[tp] if found[tp] is None else found[tp].offset for tp in tps}
        records: list[RawRecord] = []
        deadline = time.monotonic() + timeout_s
        for tp in tps:
            if starts[tp] >= ends[tp]:
                continue
            consumer.seek(tp, starts[tp])
            position = starts[tp]
            while position < ends[tp]:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"could not read {topic} to its end in {timeout_s:.0f} s")
                batch = await consumer.getmany(tp, timeout_ms=POLL_MS)
                for record in batch.get(tp, []):
                    if record.offset < ends[tp]:
                        records.append(_raw(record))
                    position = record.offset + 1
        return records
    finally:
        await consumer.stop()


async def follow(
    bootstrap: str, topic: str, *, from_beginning: bool = False
) -> AsyncIterator[RawRecord]:
    """Records of ``topic`` as they arrive (after the current end, or from the beginning)."""
    tps = await partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        while True:
            batch = await consumer.getmany(timeout_ms=POLL_MS)
            for tp_records in batch.values():
                for record in tp_records:
                    yield _raw(record)
    finally:
        await consumer.stop()
