"""The send loop's batch handler: a batch of due notifications becomes deliveries sent in
parallel; it returns (and the batch is committed) once every delivery has a final outcome and
every record that outcome asks for (report, invalidation, retry hand-off, dead letter) was
acknowledged by Kafka."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from aiokafka import TopicPartition

from herald import topics
from herald.batches import BatchWriter
from herald.codec import InvalidRecord
from herald.consumer import Consumer, Record
from herald.inflight import Unfinished
from herald.producer import Producer
from herald.tracing import new_trace_id
from herald.v1 import common_pb2, deliveries_pb2
from herald_dispatcher import events, metrics
from herald_dispatcher.deliverer import Deliverer, HandedBack
from herald_dispatcher.notification import Notification, parse
from herald_dispatcher.outcome import Delivery, Outcome
from herald_dispatcher.settings import DispatcherSettings
from herald_dispatcher.targets import TargetReader, plan
from herald_dispatcher.timing import now_ms
from herald_dispatcher.workers import Workers

log = logging.getLogger(__name__)

Acks = list[asyncio.Future[Any]]
_REPORT_TYPE = (topics.HEADER_TYPE, events.REPORT_TYPE.encode())
# Of the shutdown grace period, this much is kept for committing and flushing.
_RESERVE_S = 3.0


class Dispatch:
    def __init__(
        self,
        *,
        settings: DispatcherSettings,
        deliverer: Deliverer,
        targets: TargetReader,
        producer: Producer,
        stop: asyncio.Event,
    ) -> None:
        self._settings = settings
        self._deliverer = deliverer
        self._targets = targets
        self._producer = producer
        self._stop = stop
        self._reports = BatchWriter(
            producer, topics.DELIVERIES, linger_s=settings.report_linger_ms / 1000
        )
        # Set once the consumer exists: used for partial commits on shutdown and for the lag.
        self.consumer: Consumer | None = None

    async def handle(self, records: list[Record]) -> None:
        await self._reports.refresh_partitions()
        acks: Acks = []
        notifications: list[Notification] = []
        for record in records:
            try:
                notification = parse(record)
            except InvalidRecord as exc:
                acks.append(await self._dead_letter(record, exc.reason, exc.detail))
                continue
            notifications.append(notification)
        found = await self._targets.resolve(n.user_id for n in notifications)
        deliveries: list[Delivery] = []
        # Writes of outcomes to the deliveries' keys, awaited with the Kafka acks.
        settling: Acks = []
        for notification in notifications:
            planned = plan(
                notification, found.get(notification.user_id, []), self._settings.default_project
            )
            attempts = notification.due.attempts
            if not planned.deliveries and not planned.gone:
                outcome = Outcome(deliveries_pb2.DELIVERY_STATUS_NO_TARGETS, attempts)
                acks.append(self._report(notification, None, outcome))
            for target in planned.gone:
                outcome = Outcome(
                    deliveries_pb2.DELIVERY_STATUS_NO_TARGETS,
                    attempts,
                    error_message="the user no longer has this target",
                )
                acks.append(self._report(notification, target, outcome))
            deliveries.extend(planned.deliveries)
        # Each delivery's outcome, or the exception it ended with; none when it never ended.
        ended: list[Outcome | BaseException | None] = [None] * len(deliveries)
        await self._run(deliveries, ended, acks, settling)

        errors: list[BaseException] = []
        unfinished: set[tuple[str, int, int]] = set()
        retries: dict[tuple[int, int], list[tuple[Delivery, Outcome]]] = defaultdict(list)
        dead: dict[tuple[int, str], list[tuple[Delivery, Outcome]]] = defaultdict(list)
        for delivery, ending in zip(deliveries, ended, strict=True):
            source = delivery.notification.record
            if ending is None or isinstance(ending, HandedBack):
                unfinished.add((source.topic, source.partition, source.offset))
                continue
            if isinstance(ending, BaseException):
                errors.append(ending)
                continue
            outcome = ending
            if outcome.status == deliveries_pb2.DELIVERY_STATUS_RETRY_SCHEDULED:
                retries[(id(delivery.notification), outcome.attempts)].append((delivery, outcome))
            if outcome.dead_letter_reason:
                group = (id(delivery.notification), outcome.dead_letter_reason)
                dead[group].append((delivery, outcome))
        if errors:
            self._reports.flush()
            await asyncio.gather(*acks, *settling, return_exceptions=True)
            raise errors[0]
        for group_outcomes in retries.values():
            acks.append(await self._hand_back(group_outcomes))
        for group_outcomes in dead.values():
            acks.append(await self._dead_letter_deliveries(group_outcomes))
        self._reports.flush()
        await asyncio.gather(*acks, *settling)
        self._observe_lag(records)
        if unfinished:
            # The consumer commits each partition up to the first of them.
            raise Unfinished(unfinished, f"stopping: {len(unfinished)} notifications handed back")

    async def _run(
        self,
        deliveries: list[Delivery],
        ended: list[Outcome | BaseException | None],
        acks: Acks,
        settling: Acks,
    ) -> None:
        """Every delivery to its end, by as many workers as requests may be in flight (and a
        spare one for each in an in-process retry's wait); once stopping, for the grace period
        at most, and what no worker took is left unfinished."""
        queued = Counter(delivery.project_id for delivery in deliveries)

        async def work(item: tuple[int, Delivery], spare: Callable[[], None]) -> None:
            index, delivery = item
            project = delivery.project_id
            queued[project] -= 1
            try:
                ended[index] = await self._deliver(
                    delivery, acks, settling, queued=queued[project], spare=spare
                )
            except Exception as exc:
                ended[index] = exc

        workers = Workers(enumerate(deliveries), work, self._stop)
        grace_s = max(1.0, self._settings.shutdown_grace_s - _RESERVE_S)
        await workers.run(min(len(deliveries), self._settings.max_in_flight), grace_s)

    async def _deliver(
        self,
        delivery: Delivery,
        acks: Acks,
        settling: Acks,
        *,
        queued: int,
        spare: Callable[[], None],
    ) -> Outcome:
        outcome = await self._deliverer.deliver(delivery, settling, queued=queued, spare=spare)
        acks.append(self._report(delivery.notification, delivery.target, outcome))
        if outcome.invalidation:
            metrics.INVALIDATIONS.labels(str(outcome.invalidation)).inc()
            invalidated = events.token_invalidated(delivery, outcome, now_ms())
            acks.append(
                await self._producer.send(
                    topics.TOKENS_INVALIDATED,
                    delivery.notification.user_id,
                    invalidated,
                    trace_id=delivery.notification.record.trace_id,
                )
            )
        return outcome

    def _report(
        self, notification: Notification, target: common_pb2.Target | None, outcome: Outcome
    ) -> asyncio.Future[Any]:
        metrics.deliveries(outcome.status).inc()
        report_ms = now_ms()
        report = events.report(notification, target, outcome, report_ms)
        # What Producer.send would write, without its per-record work.
        trace_id = notification.record.trace_id or new_trace_id()
        headers = [(topics.HEADER_TRACE_ID, trace_id.encode()), _REPORT_TYPE]
        return self._reports.add(
            notification.notification_id.encode(),
            report.SerializeToString(),
            headers,
            report_ms,
        )

    async def _hand_back(self, group: list[tuple[Delivery, Outcome]]) -> asyncio.Future[Any]:
        notification = group[0][0].notification
        fire_at_ms = max(outcome.retry_at_ms or 0 for _, outcome in group)
        reminder = events.retry_reminder(
            notification,
            [delivery.target for delivery, _ in group],
            group[0][1].attempts,
            fire_at_ms,
            now_ms(),
        )
        return await self._producer.send(
            topics.REMINDERS,
            reminder.reminder_id,
            reminder,
            trace_id=notification.record.trace_id,
        )

    async def _dead_letter_deliveries(
        self, group: list[tuple[Delivery, Outcome]]
    ) -> asyncio.Future[Any]:
        notification = group[0][0].notification
        first = group[0][1]
        due = events.narrowed(
            notification,
            [delivery.target for delivery, _ in group],
            max(outcome.attempts for _, outcome in group),
        )
        log.warning(
            "dead-lettering deliveries",
            extra={
                "notification_id": notification.notification_id,
                "reason": first.dead_letter_reason,
                "targets": len(group),
            },
        )
        headers = self._dead_letter_headers(
            notification.record, first.dead_letter_reason, first.error_message
        )
        return await self._producer.send_raw(
            topics.DLQ, notification.user_id, due.SerializeToString(), headers
        )

    async def _dead_letter(self, record: Record, reason: str, detail: str) -> asyncio.Future[Any]:
        log.warning(
            "dead-lettering record: %s: %s",
            reason,
            detail,
            extra={"partition": record.partition, "offset": record.offset},
        )
        value = record.message.SerializeToString() if record.message is not None else None
        headers = self._dead_letter_headers(record, reason, detail)
        return await self._producer.send_raw(topics.DLQ, record.key, value, headers)

    def _dead_letter_headers(self, record: Record, reason: str, detail: str) -> events.Headers:
        return events.dead_letter_headers(
            record,
            events.DUE_TYPE,
            namespace=self._settings.topic_namespace,
            group_id=self._settings.send_group_id,
            reason=reason,
            detail=detail,
        )

    def _observe_lag(self, records: list[Record]) -> None:
        if self.consumer is None:
            return
        last: dict[int, int] = {}
        for record in records:
            last[record.partition] = max(last.get(record.partition, -1), record.offset)
        topic = self._settings.topic_namespace + topics.NOTIFICATIONS_DUE.name
        for partition, offset in last.items():
            highwater = self.consumer.kafka.highwater(TopicPartition(topic, partition))
            if highwater is not None:
                metrics.CONSUMER_LAG.labels(str(partition)).set(max(0, highwater - offset - 1))
