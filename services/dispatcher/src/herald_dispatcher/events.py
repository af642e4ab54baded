"""The records the dispatcher writes: delivery reports, invalidations, retry hand-offs and
dead letters. Event ids are derived from what they describe, so a record written again after a
redelivery carries the same id and readers can drop the copy."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from herald import topics
from herald.codec import type_name
from herald.consumer import Record
from herald.v1 import common_pb2, deliveries_pb2, notifications_pb2, reminders_pb2, tokens_pb2
from herald_dispatcher.notification import Notification
from herald_dispatcher.outcome import Delivery, Outcome

Headers = list[tuple[str, bytes]]
DUE_TYPE = type_name(notifications_pb2.NotificationDue())
REPORT_TYPE = type_name(deliveries_pb2.DeliveryReport())


def event_id(*parts: object) -> str:
    """32 hex digits derived from ``parts``."""
    joined = "\0".join(str(part) for part in parts).encode()
    return hashlib.blake2b(joined, digest_size=16, person=b"herald-dispatch").hexdigest()


def report(
    notification: Notification,
    target: common_pb2.Target | None,
    outcome: Outcome,
    now_ms: int,
) -> deliveries_pb2.DeliveryReport:
    value = target.value if target is not None else ""
    message = deliveries_pb2.DeliveryReport(
        event_id=event_id(
            "report",
            notification.notification_id,
            notification.occurrence_ms,
            value,
            outcome.attempts,
            outcome.status,
        ),
        notification_id=notification.notification_id,
        user_id=notification.user_id,
        status=outcome.status,
        fcm_message_name=outcome.fcm_name,
        error_code=outcome.error_code,
        error_message=outcome.error_message[:500],
        attempts=outcome.attempts,
        latency_ms=max(0, now_ms - notification.occurrence_ms),
    )
    message.occurred_at.FromMilliseconds(now_ms)
    message.occurrence_at.FromMilliseconds(notification.occurrence_ms)
    if target is not None:
        message.target.CopyFrom(target)
    return message


def token_invalidated(
    delivery: Delivery, outcome: Outcome, now_ms: int
) -> tokens_pb2.TokenInvalidated:
    message = tokens_pb2.TokenInvalidated(
        event_id=event_id("invalidated", delivery.project_id, delivery.target.value),
        user_id=delivery.notification.user_id,
        target=delivery.target,
        reason=outcome.invalidation,
        detail=outcome.error_message[:500],
    )
    if not message.target.project_id:
        message.target.project_id = delivery.project_id
    message.occurred_at.FromMilliseconds(now_ms)
    message.observed_at.FromMilliseconds(now_ms)
    return message


def retry_reminder(
    notification: Notification,
    targets: Sequence[common_pb2.Target],
    attempts: int,
    fire_at_ms: int,
    now_ms: int,
) -> reminders_pb2.ReminderScheduled:
    """The notification handed back to the scheduler: released once at ``fire_at_ms`` as a
    NotificationDue for ``targets`` only, with ``attempts`` made so far."""
    due = notification.due
    values = sorted(t.value for t in targets)
    reminder_id = "retry-" + event_id(
        "retry", notification.notification_id, notification.occurrence_ms, attempts, *values
    )
    message = reminders_pb2.ReminderScheduled(
        event_id=event_id("reminder", reminder_id),
        reminder_id=reminder_id,
        user_id=due.user_id,
        content=due.content,
        collapse_key=due.collapse_key,
        urgency=due.urgency,
        retry=reminders_pb2.DeliveryRetry(
            notification_id=notification.notification_id,
            occurrence_at=due.occurrence_at,
            attempts=attempts,
            targets=targets,
        ),
    )
    message.occurred_at.FromMilliseconds(now_ms)
    message.fire_at.FromMilliseconds(fire_at_ms)
    message.retry.occurrence_at.FromMilliseconds(notification.occurrence_ms)
    if notification.expires_at_ms is not None:
        message.expires_at.FromMilliseconds(notification.expires_at_ms)
    return message


def narrowed(
    notification: Notification, targets: Sequence[common_pb2.Target], attempts: int
) -> notifications_pb2.NotificationDue:
    """The notification as it would be sent again to ``targets`` (for the dead-letter topic)."""
    due = notifications_pb2.NotificationDue()
    due.CopyFrom(notification.due)
    due.attempts = attempts
    del due.targets[:]
    due.targets.extend(targets)
    return due


def dead_letter_headers(
    record: Record, message_type: str, *, namespace: str, group_id: str, reason: str, detail: str
) -> Headers:
    """The headers herald.consumer gives a dead letter, for one the dispatcher writes itself."""
    headers: Headers = [(topics.HEADER_TYPE, message_type.encode())]
    if record.trace_id:
        headers.append((topics.HEADER_TRACE_ID, record.trace_id.encode()))
    return [
        *headers,
        (topics.HEADER_DLQ_REASON, reason.encode()),
        (topics.HEADER_DLQ_DETAIL, detail.encode()[:1000]),
        (topics.HEADER_DLQ_TOPIC, (namespace + record.topic).encode()),
        (topics.HEADER_DLQ_PARTITION, str(record.partition).encode()),
        (topics.HEADER_DLQ_OFFSET, str(record.offset).encode()),
        (topics.HEADER_DLQ_GROUP, group_id.encode()),
    ]
