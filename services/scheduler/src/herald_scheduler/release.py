"""The release loop of one shard: sleep until the earliest due reminder, take what is due into
in-flight with a lease, publish it, then re-arm or retire it."""

from __future__ import annotations

import asyncio
import logging
from typing import NamedTuple

from herald import topics
from herald.codec import InvalidRecord
from herald_scheduler import metrics, prepared
from herald_scheduler.clock import Clock
from herald_scheduler.events import DUE_TYPE, DueStamp, expired_record, new_ids, notification_body
from herald_scheduler.publisher import BatchProducer, OutRecord
from herald_scheduler.reminder import Reminder, stored
from herald_scheduler.settings import SchedulerSettings
from herald_scheduler.shard import Shard
from herald_scheduler.store import Fenced, Lost, Taken, TakeResult

log = logging.getLogger(__name__)

_ERROR_PAUSE_S = 1.0
_RETIRING_PER_SLOT = 4


class Outcome(NamedTuple):
    taken: Taken
    next_ms: int | None
    expired: bool

    @property
    def record(self) -> bytes:
        return self.taken.record


class Releaser:
    def __init__(
        self, shard: Shard, *, producer: BatchProducer, settings: SchedulerSettings, clock: Clock
    ) -> None:
        self.shard = shard
        self._producer = producer
        self._settings = settings
        self._clock = clock
        # Batches publishing at once, and batches retiring at once (tombstones, re-arming).
        self._slots = asyncio.Semaphore(settings.release_concurrency)
        self._retiring = asyncio.Semaphore(_RETIRING_PER_SLOT * settings.release_concurrency)
        self._batches: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._taken_at_ms = 0
        self._pending = metrics.PENDING.labels(shard.label)

    def stop(self) -> None:
        """Take nothing more; ``run`` returns once the batches in flight are finished."""
        self._stopping = True
        self.shard.wake.set()

    async def run(self) -> None:
        """Release until stopped or fenced off by a later owner."""
        try:
            while not self._stopping:
                self.shard.sleeping_until_ms = None
                self.shard.wake.clear()
                try:
                    result = await self._step()
                except Fenced:
                    metrics.FENCED.inc()
                    log.warning("shard %s was claimed by a later owner: stopping", self.shard.label)
                    return
                except Exception as exc:
                    log.warning("shard %s: release step failed: %r", self.shard.label, exc)
                    await self._pause(_ERROR_PAUSE_S)
                    continue
                if len(result.taken) < self._settings.release_batch:
                    await self.shard.save_offset(at_most_every_ms=self._settings.idle_check_ms)
                    await self._sleep(result)
            if self._batches:
                await asyncio.wait(set(self._batches))
        finally:
            for task in self._batches:
                task.cancel()

    async def _step(self) -> TakeResult:
        """Take what is due and start releasing it in the background."""
        await self._slots.acquire()
        if self._stopping:
            self._slots.release()
            return TakeResult([], 0, None, None, 0)
        try:
            try:
                result = await self.take()
            except Lost:
                await self.shard.recover()
                result = await self.take()
        except BaseException:
            self._slots.release()
            raise
        if not result.taken:
            self._slots.release()
            return result
        task = asyncio.create_task(self._release_then_free(result.taken))
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)
        return result

    async def take(self) -> TakeResult:
        now_ms = self._taken_at_ms = self._clock.now_ms()
        result = await self.shard.store.take(
            self.shard.epoch, now_ms, now_ms + self._settings.lease_ms, self._settings.release_batch
        )
        if result.lapsed:
            metrics.LEASES_EXPIRED.inc(result.lapsed)
            log.warning("shard %s: %d leases lapsed", self.shard.label, result.lapsed)
        self._pending.set(result.pending)
        return result

    async def release_due(self) -> int:
        """Take and release what is due now, in one batch; returns how many were taken."""
        result = await self.take()
        if result.taken:
            await self.retire(await self.publish(result.taken))
        return len(result.taken)

    async def publish(self, taken: list[Taken]) -> list[Outcome]:
        """Publish each taken occurrence (or report its expiry); returns once Kafka acked."""
        now_ms = self._clock.now_ms()
        stamp = DueStamp(now_ms)
        # Two per reminder: the NotificationDue's event id and its trace id.
        ids = new_ids(2 * len(taken))
        outcomes: list[Outcome] = []
        dues: list[OutRecord] = []
        reports: list[OutRecord] = []
        for n, item in enumerate(taken):
            ready = prepared.read(item.prepared) if item.prepared else None
            if (
                ready is not None
                and ready.occurrence_ms == item.occurrence_ms
                and (ready.expires_ms is None or now_ms < ready.expires_ms)
            ):
                # The common case, a one-shot prepared at intake: no decoding, no message built.
                trace = [(topics.HEADER_TRACE_ID, ids[2 * n + 1]), (topics.HEADER_TYPE, DUE_TYPE)]
                value = stamp.value(ready.body, ids[2 * n])
                dues.append((ready.user_id, value, trace, ready.key_hash))
                outcomes.append(Outcome(item, None, False))
                continue
            try:
                reminder = stored(item.reminder_id, item.record)
            except InvalidRecord as exc:
                log.error("shard %s: dropping unreadable %s: %s", self.shard.label, item, exc)
                outcomes.append(Outcome(item, None, expired=False))
                continue
            expires_ms = reminder.occurrence_expires_ms(item.occurrence_ms)
            expired = expires_ms is not None and now_ms >= expires_ms
            if expired:
                self._expired(reminder, item.occurrence_ms, now_ms, reports)
            else:
                body = notification_body(reminder, item.occurrence_ms)
                trace = [(topics.HEADER_TRACE_ID, ids[2 * n + 1]), (topics.HEADER_TYPE, DUE_TYPE)]
                value = stamp.value(body.SerializeToString(), ids[2 * n])
                dues.append((body.user_id, value, trace, None))
            outcomes.append(Outcome(item, reminder.next_after(item.occurrence_ms), expired))
        if reports:
            await asyncio.gather(
                self._producer.send_many(topics.NOTIFICATIONS_DUE, dues),
                self._producer.send_many(topics.DELIVERIES, reports),
            )
        else:
            await self._producer.send_many(topics.NOTIFICATIONS_DUE, dues)
        acked_ms = self._clock.now_ms()
        released = 0
        for outcome in outcomes:
            if not outcome.expired:
                released += 1
                metrics.LATENESS.observe((acked_ms - outcome.taken.occurrence_ms) / 1000)
        metrics.RELEASED.inc(released)
        metrics.EXPIRED.inc(len(outcomes) - released)
        return outcomes

    def _expired(
        self, reminder: Reminder, occurrence_ms: int, now_ms: int, reports: list[OutRecord]
    ) -> None:
        log.info(
            "occurrence expired before its release",
            extra={
                "notification_id": reminder.notification_id(occurrence_ms),
                "late_ms": now_ms - occurrence_ms,
            },
        )
        if self._settings.report_expired:
            key, value, headers = expired_record(reminder, occurrence_ms, now_ms)
            reports.append((key, value, headers, None))

    async def retire(self, outcomes: list[Outcome]) -> None:
        """Tombstone what is done, re-arm recurring reminders, and end the leases."""
        done = [(o.taken.reminder_id, o.record) for o in outcomes if o.next_ms is None]
        if done:
            await self.shard.tombstone(done)
        changed = await self.shard.store.complete(
            self.shard.epoch,
            [(o.taken.reminder_id, o.taken.occurrence_ms, o.next_ms) for o in outcomes],
        )
        for reminder_id, _ in done:
            if reminder_id in changed:
                await self.shard.superseded(reminder_id)
        upcoming = [o.next_ms for o in outcomes if o.next_ms is not None]
        if upcoming:
            self.shard.notify(min(upcoming))

    async def _release_then_free(self, taken: list[Taken]) -> None:
        """Publish, free the publishing slot, then retire (bounded, so a slow retire holds the
        slot and slows taking down)."""
        holding = True
        try:
            outcomes = await self.publish(taken)
            async with self._retiring:
                self._slots.release()
                holding = False
                await self.retire(outcomes)
        except Fenced:
            metrics.FENCED.inc()
            log.warning("shard %s was claimed by a later owner mid-release", self.shard.label)
        except Exception:
            metrics.RELEASE_FAILURES.inc()
            log.exception(
                "shard %s: releasing %d reminders failed; they go back to due when their "
                "lease lapses",
                self.shard.label,
                len(taken),
            )
        finally:
            if holding:
                self._slots.release()

    async def _sleep(self, result: TakeResult) -> None:
        now_ms = self._clock.now_ms()
        wake_ms = min(
            ms
            for ms in (
                result.next_due_ms,
                result.next_lease_ms,
                now_ms + self._settings.idle_check_ms,
            )
            if ms is not None
        )
        interval_ms = self._settings.release_interval_ms
        if interval_ms and wake_ms < self._taken_at_ms + interval_ms:
            # Busy: wake on the shared grid of intervals, so the shards that are busy take,
            # publish and retire together (their Redis calls and Kafka batches coalesce).
            wake_ms = -(-(self._taken_at_ms + interval_ms) // interval_ms) * interval_ms
        self.shard.sleeping_until_ms = wake_ms
        if wake_ms > now_ms:
            await self._pause((wake_ms - now_ms) / 1000)

    async def _pause(self, delay_s: float) -> None:
        try:
            async with asyncio.timeout(delay_s):
                await self.shard.wake.wait()
        except TimeoutError:
            pass
