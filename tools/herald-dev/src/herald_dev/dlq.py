"""The dead-letter topic: what is in it, and putting records back on the topic they came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from herald import topics
from herald.producer import Producer
from herald_dev.kafka_read import RawRecord, read_range

DLQ_HEADERS = frozenset(
    {
        topics.HEADER_DLQ_REASON,
        topics.HEADER_DLQ_DETAIL,
        topics.HEADER_DLQ_TOPIC,
        topics.HEADER_DLQ_PARTITION,
        topics.HEADER_DLQ_OFFSET,
        topics.HEADER_DLQ_GROUP,
    }
)


@dataclass(frozen=True)
class DeadLetter:
    record: RawRecord

    @property
    def reason(self) -> str:
        return self.record.header(topics.HEADER_DLQ_REASON) or ""

    @property
    def source_topic(self) -> str:
        return self.record.header(topics.HEADER_DLQ_TOPIC) or ""

    def to_json(self) -> dict[str, Any]:
        record = self.record
        return {
            "partition": record.partition,
            "offset": record.offset,
            "at": datetime.fromtimestamp(record.timestamp_ms / 1000, UTC).isoformat(),
            "reason": self.reason,
            "detail": record.header(topics.HEADER_DLQ_DETAIL) or "",
            "source_topic": self.source_topic,
            "source_partition": record.header(topics.HEADER_DLQ_PARTITION),
            "source_offset": record.header(topics.HEADER_DLQ_OFFSET),
            "consumer_group": record.header(topics.HEADER_DLQ_GROUP),
            "type": record.type_name,
            "key": record.key.decode(errors="replace") if record.key is not None else None,
            "bytes": len(record.value or b""),
        }

    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v) for k, v in self.record.headers if k not in DLQ_HEADERS]


async def dead_letters(
    bootstrap: str,
    namespace: str,
    since_ms: int | None = None,
    reason: str | None = None,
    source_topic: str | None = None,
) -> list[DeadLetter]:
    """The dead letters from ``since_ms`` (or all the topic holds), filtered; ``source_topic``
    is a declared topic name (without the namespace)."""
    records = await read_range(bootstrap, namespace + topics.DLQ.name, since_ms)
    found = [DeadLetter(r) for r in records]
    if reason is not None:
        found = [d for d in found if d.reason == reason]
    if source_topic is not None:
        found = [d for d in found if d.source_topic == namespace + source_topic]
    return found


def replayable_topics(namespace: str) -> frozenset[str]:
    return frozenset(namespace + t.name for t in topics.ALL_TOPICS if t is not topics.DLQ)


async def replay(producer: Producer, letters: list[DeadLetter], namespace: str) -> list[DeadLetter]:
    """Write each dead letter's original key, value and headers back to its source topic (one
    of this namespace's topics); returns those it could not replay, because their source topic
    is missing or foreign."""
    allowed = replayable_topics(namespace)
    skipped: list[DeadLetter] = []
    acks = []
    for letter in letters:
        if letter.source_topic not in allowed:
            skipped.append(letter)
            continue
        record = letter.record
        acks.append(
            await producer.send_raw(
                letter.source_topic, record.key, record.value, letter.original_headers()
            )
        )
    for ack in acks:
        await ack
    return skipped
