"""The records the scheduler writes: NotificationDue, expired DeliveryReports, tombstones."""

from __future__ import annotations

import os

from herald import topics
from herald.codec import type_name
from herald.v1 import deliveries_pb2, notifications_pb2, reminders_pb2
from herald_scheduler.reminder import Reminder

Headers = list[tuple[str, bytes]]

_DUE_TYPE = type_name(notifications_pb2.NotificationDue()).encode()
_REPORT_TYPE = type_name(deliveries_pb2.DeliveryReport()).encode()
_REMINDER_TYPE = type_name(reminders_pb2.ReminderScheduled()).encode()


def new_id() -> str:
    """32 random hex digits, as ``uuid4().hex`` but a few times cheaper (ids and trace ids)."""
    return os.urandom(16).hex()


def headers(type_header: bytes | None) -> Headers:
    trace = [(topics.HEADER_TRACE_ID, new_id().encode())]
    return trace if type_header is None else [*trace, (topics.HEADER_TYPE, type_header)]


def reminder_headers() -> Headers:
    return headers(_REMINDER_TYPE)


def notification_due(
    reminder: Reminder, occurrence_ms: int, now_ms: int
) -> notifications_pb2.NotificationDue:
    message = reminder.message
    due = notifications_pb2.NotificationDue(
        event_id=new_id(),
        notification_id=reminder.notification_id(occurrence_ms),
        reminder_id=message.reminder_id or reminder.key,
        user_id=message.user_id,
        content=message.content,
        collapse_key=message.collapse_key,
        urgency=message.urgency,
    )
    due.occurred_at.FromMilliseconds(now_ms)
    if reminder.is_retry:
        due.occurrence_at.CopyFrom(message.retry.occurrence_at)
        due.attempts = message.retry.attempts
        due.targets.extend(message.retry.targets)
    else:
        due.occurrence_at.FromMilliseconds(occurrence_ms)
    expires_ms = reminder.occurrence_expires_ms(occurrence_ms)
    if expires_ms is not None:
        due.expires_at.FromMilliseconds(expires_ms)
    return due


def due_record(reminder: Reminder, occurrence_ms: int, now_ms: int) -> tuple[str, bytes, Headers]:
    """Key (user id), value and headers of the NotificationDue for one occurrence."""
    due = notification_due(reminder, occurrence_ms, now_ms)
    return due.user_id, due.SerializeToString(), headers(_DUE_TYPE)


def expired_record(
    reminder: Reminder, occurrence_ms: int, now_ms: int
) -> tuple[str, bytes, Headers]:
    """Key (notification id), value and headers of the EXPIRED report for one occurrence."""
    due = notification_due(reminder, occurrence_ms, now_ms)
    report = deliveries_pb2.DeliveryReport(
        event_id=new_id(),
        notification_id=due.notification_id,
        occurrence_at=due.occurrence_at,
        user_id=due.user_id,
        status=deliveries_pb2.DELIVERY_STATUS_EXPIRED,
        error_message="expired before the scheduler could release it",
        attempts=due.attempts,
        latency_ms=now_ms - occurrence_ms,
    )
    report.occurred_at.FromMilliseconds(now_ms)
    return report.notification_id, report.SerializeToString(), headers(_REPORT_TYPE)
