"""Intake: apply each record of the reminders topic to its shard in Redis."""

from __future__ import annotations

import logging
from typing import Any

from aiokafka.errors import IllegalStateError

from herald.codec import InvalidRecord
from herald.consumer import Consumer, Record
from herald.v1 import reminders_pb2
from herald_scheduler import metrics
from herald_scheduler.ownership import Ownership
from herald_scheduler.reminder import DAY_MS, parse
from herald_scheduler.settings import SchedulerSettings
from herald_scheduler.store import Fenced

log = logging.getLogger(__name__)


class NotOwned(Exception):
    """The record's partition is not this instance's (any more); it is not committed here."""


class Intake:
    def __init__(self, ownership: Ownership, settings: SchedulerSettings) -> None:
        self._ownership = ownership
        self._horizon_ms = settings.horizon_days * DAY_MS

    async def handle(self, record: Record) -> None:
        """Upsert on ReminderScheduled, cancel on a tombstone; InvalidRecord dead-letters.

        Returns only once Redis holds the change, so the consumer commits only applied work.
        """
        shard = self._ownership.owned(record.partition) or await self._ownership.shard_for(
            record.partition
        )
        if shard is None:
            raise NotOwned(f"partition {record.partition} is not owned here")
        if not record.key:
            raise InvalidRecord("missing-key", "the record key must be the reminder id")
        try:
            if record.message is None:
                # Most tombstones are this instance's own, one per released reminder.
                if not shard.own_tombstone_read(record.key, record.offset):
                    await shard.cancelled(record.key, record.offset)
                return
            assert isinstance(record.message, reminders_pb2.ReminderScheduled)
            reminder = parse(
                record.key,
                record.message,
                received_ms=record.timestamp_ms,
                horizon_ms=self._horizon_ms,
            )
            await shard.scheduled(
                reminder, record.message.SerializeToString(deterministic=True), record.offset
            )
        except Fenced as exc:
            metrics.FENCED.inc()
            raise NotOwned(f"shard {record.partition} was claimed by a later owner") from exc


class IntakeConsumer(Consumer):
    """The shared consumer, tolerating partitions that move to another member mid-batch."""

    async def process(self, batch: dict[Any, list[Any]]) -> None:
        try:
            await super().process(batch)
        except IllegalStateError as exc:
            # Seek or commit on a partition revoked while its batch was handled: its new owner
            # reads again from the last committed offset.
            log.warning("partition revoked mid-batch: %s", exc)
