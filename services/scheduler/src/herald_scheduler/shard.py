"""One shard (a partition of the reminders topic) as this instance holds it: its epoch, its
Redis index, the tombstones it wrote, and how intake changes it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from herald import topics
from herald_scheduler import metrics
from herald_scheduler.batching import ScriptBatcher
from herald_scheduler.clock import Clock
from herald_scheduler.events import headers, new_ids, reminder_headers
from herald_scheduler.keys import ShardKeys
from herald_scheduler.prepared import prepare
from herald_scheduler.publisher import BatchProducer
from herald_scheduler.rebuild import rebuild
from herald_scheduler.reminder import Reminder
from herald_scheduler.settings import SchedulerSettings
from herald_scheduler.store import Lost, Retry, ShardStore, Upserted

log = logging.getLogger(__name__)


@dataclass
class OwnTombstone:
    """A tombstone this instance wrote for a reminder that is done, not yet read back."""

    record: bytes
    # Where it landed in the topic, once Kafka acknowledged it.
    offset: int | None = None
    # A different record for the reminder arrived after it was taken for release.
    superseded: bool = False


class Shard:
    def __init__(
        self,
        partition: int,
        *,
        scripts: ScriptBatcher,
        producer: BatchProducer,
        settings: SchedulerSettings,
        clock: Clock,
    ) -> None:
        self.partition = partition
        self.label = str(partition)
        self.topic = settings.topic_namespace + topics.REMINDERS.name
        self.store = ShardStore(scripts, ShardKeys.for_shard(self.topic, partition))
        self.epoch = 0
        # Set when a reminder may have become due earlier than the release loop sleeps.
        self.wake = asyncio.Event()
        # Until when the release loop sleeps; None while it is awake.
        self.sleeping_until_ms: int | None = None
        self.tombstones: dict[str, OwnTombstone] = {}
        # Offsets up to this one were loaded by this instance's last rebuild.
        self.rebuilt_through = -1
        self._producer = producer
        self._settings = settings
        self._clock = clock
        self._catchup_ms = settings.recurring_catchup_s * 1000
        self._unsaved_offset: int | None = None
        self._saved_at_ms = 0
        self._lock = asyncio.Lock()

    async def open(self, committed: int | None) -> None:
        """Claim the shard; rebuild its index when Redis lost it or lags the group's offsets."""
        async with self._lock:
            self.epoch = await self.store.acquire(self._clock.now_ms())
            try:
                applied = await self.store.applied(self.epoch)
            except Lost:
                log.log(
                    logging.INFO if committed is None else logging.WARNING,
                    "shard %s has no index in Redis: rebuilding",
                    self.label,
                )
            else:
                if committed is None or applied + 1 >= committed:
                    return
                log.warning(
                    "shard %s in Redis is behind the topic (applied %d, committed %d): rebuilding",
                    self.label,
                    applied,
                    committed,
                )
            await self._rebuild()

    async def recover(self) -> None:
        """After Lost: take the shard back and rebuild it, unless that happened meanwhile."""
        async with self._lock:
            try:
                await self.store.applied(self.epoch)
                return
            except Lost:
                pass
            await self.store.reclaim(self.epoch)
            try:
                await self.store.applied(self.epoch)
            except Lost:
                log.warning("shard %s lost its index in Redis: rebuilding", self.label)
                await self._rebuild()

    async def close(self) -> None:
        await self.save_offset()
        self.tombstones.clear()
        metrics.PENDING.remove(self.label)

    def notify(self, occurrence_ms: int) -> None:
        """Wake the release loop when ``occurrence_ms`` is earlier than it would wake."""
        if self.sleeping_until_ms is None or occurrence_ms < self.sleeping_until_ms:
            self.wake.set()

    async def scheduled(self, reminder: Reminder, record: bytes, offset: int) -> None:
        """Apply a ReminderScheduled: store and arm it, or skip it when it changes nothing."""
        if offset <= self.rebuilt_through:
            return
        own = self.tombstones.get(reminder.key)
        if own is not None:
            if own.record == record:
                self._note(offset)
                metrics.INTAKE_OUTCOMES["same"].inc()
                return
            own.superseded = True
        # A one-shot reminder arms at fire_at whatever was released before.
        expected: int | str | None = "*" if reminder.recurrence is None else None
        last_ms: int | None = None
        ready = prepare(reminder)
        while True:
            occurrence_ms = reminder.arm(
                now_ms=self._clock.now_ms(), last_ms=last_ms, catchup_ms=self._catchup_ms
            )
            try:
                outcome = await self.store.upsert(
                    self.epoch, offset, reminder.key, record, occurrence_ms, expected, ready
                )
            except Lost:
                await self.recover()
                continue
            if isinstance(outcome, Retry):
                last_ms = expected = outcome.last_ms
                continue
            break
        metrics.INTAKE_OUTCOMES[outcome.value].inc()
        if outcome is Upserted.APPLIED:
            if occurrence_ms is None:
                await self.tombstone([(reminder.key, record)])
            else:
                self.notify(occurrence_ms)

    async def cancelled(self, reminder_id: str, offset: int) -> None:
        """Apply a tombstone: forget the reminder, unless it is this instance's own tombstone
        for a reminder that was done already (see ``superseded``)."""
        if self.own_tombstone_read(reminder_id, offset):
            return
        if offset <= self.rebuilt_through:
            return
        own = self.tombstones.get(reminder_id)
        if own is not None and own.offset in (None, offset):
            del self.tombstones[reminder_id]
            self._note(offset)
            await self._republish(reminder_id)
            return
        while True:
            try:
                applied = await self.store.cancel(self.epoch, offset, reminder_id)
                break
            except Lost:
                await self.recover()
        metrics.INTAKE_OUTCOMES["cancelled" if applied else "seen"].inc()

    def own_tombstone_read(self, reminder_id: str, offset: int) -> bool:
        """Intake read a tombstone this instance wrote for a reminder that is done and was not
        rescheduled meanwhile: nothing to change in Redis. True when that was the case.

        Synchronous, so intake handles the tombstones of a burst (one per released reminder)
        without a Redis call or an await."""
        own = self.tombstones.get(reminder_id)
        if own is None or own.superseded or own.offset not in (None, offset):
            return False
        if offset > self.rebuilt_through:
            del self.tombstones[reminder_id]
            self._note(offset)
            metrics.INTAKE_OUTCOMES["done"].inc()
        return True

    async def tombstone(self, done: list[tuple[str, bytes]]) -> None:
        """Write a tombstone for each reminder that has nothing left to release, into this
        shard's partition (where the reminder's records are, whatever partitioner wrote them)."""
        for reminder_id, record in done:
            self.tombstones[reminder_id] = OwnTombstone(record)
        try:
            offsets = await self._producer.send_many(
                topics.REMINDERS,
                [
                    (reminder_id, None, headers(None, trace_id), None)
                    for (reminder_id, _), trace_id in zip(done, new_ids(len(done)), strict=True)
                ],
                partition=self.partition,
            )
        except BaseException:
            for reminder_id, _ in done:
                self.tombstones.pop(reminder_id, None)
            raise
        for (reminder_id, _), offset in zip(done, offsets, strict=True):
            own = self.tombstones.get(reminder_id)
            if own is not None:
                own.offset = offset

    async def superseded(self, reminder_id: str) -> None:
        """A newer record of a reminder arrived while its last occurrence was being released,
        and may precede this instance's tombstone in the topic, where compaction would drop it:
        write the newer record again after the tombstone (now, or when the tombstone is read)."""
        own = self.tombstones.get(reminder_id)
        if own is not None:
            own.superseded = True
        else:
            await self._republish(reminder_id)

    async def _republish(self, reminder_id: str) -> None:
        current = await self.store.record(reminder_id)
        if current is None:
            metrics.INTAKE_OUTCOMES["done"].inc()
            return
        await self._producer.send_many(
            topics.REMINDERS,
            [(reminder_id, current, reminder_headers(), None)],
            partition=self.partition,
        )
        metrics.INTAKE_OUTCOMES["republished"].inc()

    async def save_offset(self, *, at_most_every_ms: int = 0) -> None:
        """Record in Redis the offsets of records applied without touching it."""
        now_ms = self._clock.now_ms()
        if self._unsaved_offset is None or now_ms < self._saved_at_ms + at_most_every_ms:
            return
        offset, self._unsaved_offset, self._saved_at_ms = self._unsaved_offset, None, now_ms
        try:
            await self.store.bump(self.epoch, offset)
        except Exception as exc:
            log.info("shard %s: offset %d not saved: %s", self.label, offset, exc)

    def _note(self, offset: int) -> None:
        self._unsaved_offset = max(offset, self._unsaved_offset or -1)

    async def _rebuild(self) -> None:
        while True:
            try:
                await self._rebuild_once()
                return
            except Lost:
                log.warning("shard %s was flushed again while rebuilding: again", self.label)
                await self.store.reclaim(self.epoch)

    async def _rebuild_once(self) -> None:
        result = await rebuild(
            self.store,
            self.epoch,
            settings=self._settings,
            topic=self.topic,
            partition=self.partition,
            now_ms=self._clock.now_ms(),
        )
        self.rebuilt_through = result.end_offset - 1
        self.tombstones = {
            k: v
            for k, v in self.tombstones.items()
            if v.offset is None or v.offset > self.rebuilt_through
        }
        if result.done:
            await self.tombstone(result.done)
        self.wake.set()
