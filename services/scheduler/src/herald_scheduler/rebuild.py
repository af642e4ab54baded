"""Rebuilding a shard's index from its partition of the compacted reminders topic."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from herald import topics
from herald.codec import InvalidRecord, decode
from herald.connect import with_retries
from herald.v1 import reminders_pb2
from herald_scheduler import metrics
from herald_scheduler.prepared import prepare
from herald_scheduler.reminder import DAY_MS, parse, stored
from herald_scheduler.settings import SchedulerSettings
from herald_scheduler.store import Loaded, ShardStore

log = logging.getLogger(__name__)

_ACCEPTS = frozenset({reminders_pb2.ReminderScheduled.DESCRIPTOR.full_name})
_FETCH_BYTES = 8 * 1024 * 1024
_LOAD_CHUNK = 1000


@dataclass
class Snapshot:
    # Reminder id -> its record, for every reminder the partition still holds.
    records: dict[str, bytes] = field(default_factory=dict)
    # The partition's end offset when reading began; the snapshot covers every record before it.
    end_offset: int = 0
    read: int = 0
    invalid: int = 0


def _type_header(raw: Any) -> str | None:
    for key, value in raw.headers or ():
        if key == topics.HEADER_TYPE:
            return bytes(value).decode("utf-8", "replace")
    return None


def fold(snapshot: Snapshot, raw: Any, horizon_ms: int) -> None:
    """Apply one record: the latest valid record per key wins, a tombstone removes the key.

    An invalid record (dead-lettered when it was consumed) leaves the key as it was.
    """
    snapshot.read += 1
    key = raw.key.decode("utf-8", "replace") if raw.key else ""
    if not key:
        return
    if raw.value is None:
        snapshot.records.pop(key, None)
        return
    try:
        message = decode(_type_header(raw), raw.value, _ACCEPTS)
        assert isinstance(message, reminders_pb2.ReminderScheduled)
        parse(key, message, received_ms=raw.timestamp, horizon_ms=horizon_ms)
    except InvalidRecord:
        snapshot.invalid += 1
        return
    snapshot.records[key] = message.SerializeToString(deterministic=True)


async def read_partition(
    bootstrap: str,
    topic: str,
    partition: int,
    horizon_ms: int,
    *,
    connect_attempts: int,
    connect_retry_delay_s: float,
) -> Snapshot:
    """Read ``topic``'s ``partition`` from its beginning to its current end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=_FETCH_BYTES,
        fetch_max_bytes=_FETCH_BYTES,
    )
    await with_retries("Kafka (rebuild)", consumer.start, connect_attempts, connect_retry_delay_s)
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        snapshot = Snapshot(end_offset=(await consumer.end_offsets([tp]))[tp])
        consumer.seek(tp, (await consumer.beginning_offsets([tp]))[tp])
        while await consumer.position(tp) < snapshot.end_offset:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=10_000)
            for raw in batch.get(tp, ()):
                if raw.offset < snapshot.end_offset:
                    fold(snapshot, raw, horizon_ms)
        return snapshot
    finally:
        await consumer.stop()


@dataclass(frozen=True)
class Rebuilt:
    # The index now covers every record before this offset.
    end_offset: int
    # Reminders with nothing left to release (a recurring one past its end): to tombstone.
    done: list[tuple[str, bytes]]


async def rebuild(
    store: ShardStore,
    epoch: int,
    *,
    settings: SchedulerSettings,
    topic: str,
    partition: int,
    now_ms: int,
) -> Rebuilt:
    """Replace the shard's index with what its partition holds; raises Lost when Redis is
    flushed again meanwhile, Fenced when a later owner claimed the shard."""
    started = time.monotonic()
    metrics.REBUILDS.inc()
    last = await store.last_released()
    snapshot = await read_partition(
        settings.kafka_bootstrap,
        topic,
        partition,
        settings.horizon_days * DAY_MS,
        connect_attempts=settings.connect_attempts,
        connect_retry_delay_s=settings.connect_retry_delay_s,
    )
    await store.wipe(epoch)
    armed: list[Loaded] = []
    done: list[tuple[str, bytes]] = []
    for reminder_id, record in snapshot.records.items():
        last_ms = last.get(reminder_id)
        reminder = stored(reminder_id, record)
        occurrence_ms = reminder.arm(
            now_ms=now_ms, last_ms=last_ms, catchup_ms=settings.recurring_catchup_s * 1000
        )
        if occurrence_ms is None:
            done.append((reminder_id, record))
        else:
            armed.append(Loaded(reminder_id, record, occurrence_ms, last_ms, prepare(reminder)))
    for start in range(0, len(armed), _LOAD_CHUNK):
        await store.load(epoch, armed[start : start + _LOAD_CHUNK])
    await store.seal(epoch, snapshot.end_offset - 1)
    metrics.REBUILT_REMINDERS.inc(len(armed))
    log.info(
        "shard %d rebuilt from the topic",
        partition,
        extra={
            "records_read": snapshot.read,
            "invalid": snapshot.invalid,
            "armed": len(armed),
            "done": len(done),
            "end_offset": snapshot.end_offset,
            "duration_s": round(time.monotonic() - started, 3),
        },
    )
    return Rebuilt(snapshot.end_offset, done)
