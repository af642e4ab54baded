"""The records the scheduler writes: NotificationDue, expired DeliveryReports, tombstones."""

from __future__ import annotations

import os

from herald import topics
from herald.codec import type_name
from herald.v1 import deliveries_pb2, notifications_pb2, reminders_pb2
from herald_scheduler.reminder import Reminder

Headers = list[tuple[str, bytes]]

DUE_TYPE = type_name(notifications_pb2.NotificationDue()).encode()
_REPORT_TYPE = type_name(deliveries_pb2.DeliveryReport()).encode()
_REMINDER_TYPE = type_name(reminders_pb2.ReminderScheduled()).encode()

_ID_HEX_DIGITS = 32


def new_id() -> str:
    """32 random hex digits, as ``uuid4().hex`` but a few times cheaper (ids and trace ids)."""
    return os.urandom(_ID_HEX_DIGITS // 2).hex()


def new_ids(count: int) -> list[bytes]:
    """``count`` ids as ``new_id`` makes them (ASCII bytes), from one read of the system's
    randomness instead of one per id: a release batch needs two per reminder."""
    digits = os.urandom(count * _ID_HEX_DIGITS // 2).hex().encode()
    return [digits[i : i + _ID_HEX_DIGITS] for i in range(0, len(digits), _ID_HEX_DIGITS)]


def headers(type_header: bytes | None, trace_id: bytes | None = None) -> Headers:
    trace = [(topics.HEADER_TRACE_ID, trace_id or new_id().encode())]
    return trace if type_header is None else [*trace, (topics.HEADER_TYPE, type_header)]


def reminder_headers() -> Headers:
    return headers(_REMINDER_TYPE)


def notification_body(reminder: Reminder, occurrence_ms: int) -> notifications_pb2.NotificationDue:
    """The NotificationDue of one occurrence without what only its release sets (event_id,
    occurred_at): it can be made ahead, at intake, and completed with ``DueStamp``."""
    message = reminder.message
    due = notifications_pb2.NotificationDue(
        notification_id=reminder.notification_id(occurrence_ms),
        reminder_id=message.reminder_id or reminder.key,
        user_id=message.user_id,
        content=message.content,
        collapse_key=message.collapse_key,
        urgency=message.urgency,
    )
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


def _event_id_field() -> bytes:
    """The protobuf framing (tag and length) of a NotificationDue's 32-digit event_id."""
    placeholder = b"0" * _ID_HEX_DIGITS
    encoded = notifications_pb2.NotificationDue(event_id=placeholder.decode()).SerializeToString()
    assert encoded.endswith(placeholder)
    return encoded[: -len(placeholder)]


_EVENT_ID_FIELD = _event_id_field()


class DueStamp:
    """Completes serialized notification bodies released at one instant.

    Serialized protobuf messages concatenate into their merge, and a body holds neither
    event_id nor occurred_at: body + event_id field + occurred_at field is the whole
    NotificationDue, with no per-record message built. occurred_at is encoded once per batch.
    """

    def __init__(self, now_ms: int) -> None:
        stamp = notifications_pb2.NotificationDue()
        stamp.occurred_at.FromMilliseconds(now_ms)
        self._occurred_at = stamp.SerializeToString()

    def value(self, body: bytes, event_id: bytes) -> bytes:
        """The NotificationDue of ``body`` (serialized) with ``event_id`` (32 hex digits)."""
        return body + _EVENT_ID_FIELD + event_id + self._occurred_at


def expired_record(
    reminder: Reminder, occurrence_ms: int, now_ms: int
) -> tuple[str, bytes, Headers]:
    """Key (notification id), value and headers of the EXPIRED report for one occurrence."""
    due = notification_body(reminder, occurrence_ms)
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
