"""The events the service endpoints publish, built from validated requests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from herald.v1 import common_pb2, notifications_pb2, reminders_pb2
from herald_token_api import recurrence
from herald_token_api.problems import Problem
from herald_token_api.schemas import Content, NotificationRequest, ReminderRequest

URGENCIES = {
    "very_low": common_pb2.URGENCY_VERY_LOW,
    "low": common_pb2.URGENCY_LOW,
    "normal": common_pb2.URGENCY_NORMAL,
    "high": common_pb2.URGENCY_HIGH,
}
# FCM refuses payloads over 4,096 bytes; the content is most of it.
MAX_CONTENT_BYTES = 4000
# How far ahead a reminder may run, and how late a first fire time may lie in the past.
MAX_HORIZON = timedelta(days=3660)
MAX_PAST_FIRE = timedelta(days=366)


def _timestamp(when: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(when.astimezone(UTC))
    return stamp


def _invalid(field: str, message: str) -> Problem:
    return Problem(
        422,
        "invalid-body",
        "the body does not match the schema",
        extra={"errors": [{"loc": field, "msg": message}]},
    )


def content(body: Content) -> common_pb2.NotificationContent:
    message = common_pb2.NotificationContent(
        title=body.title,
        body=body.body,
        icon=body.icon or "",
        click_link=body.click_link or "",
        image=body.image or "",
        data=body.data,
    )
    if message.ByteSize() > MAX_CONTENT_BYTES:
        raise _invalid("content", f"the content takes over {MAX_CONTENT_BYTES} bytes")
    return message


def reminder(body: ReminderRequest, now: datetime) -> reminders_pb2.ReminderScheduled:
    if body.expires_at <= now:
        raise _invalid("expires_at", "expires_at is in the past")
    if body.expires_at > now + MAX_HORIZON:
        raise _invalid("expires_at", f"expires_at is more than {MAX_HORIZON.days} days ahead")
    if not now - MAX_PAST_FIRE <= body.fire_at < body.expires_at:
        raise _invalid("fire_at", "fire_at must be before expires_at and within the last year")
    try:
        recurrence.zone(body.time_zone)
    except ValueError as exc:
        raise _invalid("time_zone", str(exc)) from None
    if body.rrule is not None:
        try:
            recurrence.check_rrule(body.rrule, body.fire_at, body.time_zone)
        except ValueError as exc:
            raise _invalid("rrule", str(exc)) from None
    return reminders_pb2.ReminderScheduled(
        event_id=str(uuid.uuid4()),
        occurred_at=_timestamp(now),
        reminder_id=body.reminder_id or str(uuid.uuid4()),
        user_id=body.user_id,
        content=content(body.content),
        fire_at=_timestamp(body.fire_at),
        time_zone=body.time_zone,
        rrule=body.rrule or "",
        expires_at=_timestamp(body.expires_at),
        occurrence_ttl_s=body.occurrence_ttl_s,
        collapse_key=body.collapse_key,
        urgency=URGENCIES[body.urgency],
    )


def notification(body: NotificationRequest, now: datetime) -> notifications_pb2.NotificationDue:
    return notifications_pb2.NotificationDue(
        event_id=str(uuid.uuid4()),
        occurred_at=_timestamp(now),
        notification_id=body.notification_id or str(uuid.uuid4()),
        occurrence_at=_timestamp(now),
        user_id=body.user_id,
        content=content(body.content),
        expires_at=_timestamp(now + timedelta(seconds=body.ttl_s)),
        collapse_key=body.collapse_key,
        urgency=URGENCIES[body.urgency],
    )
