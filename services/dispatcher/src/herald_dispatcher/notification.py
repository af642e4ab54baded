"""A validated NotificationDue with the record it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from herald.codec import InvalidRecord
from herald.consumer import Record
from herald.v1 import notifications_pb2

# Data keys FCM reserves (and refuses with INVALID_ARGUMENT).
_RESERVED_KEYS = frozenset({"from", "notification", "message_type"})
_RESERVED_PREFIXES = ("google", "gcm")


def to_ms(stamp: Timestamp) -> int:
    return stamp.seconds * 1000 + stamp.nanos // 1_000_000


@dataclass(frozen=True, slots=True)
class Notification:
    record: Record
    due: notifications_pb2.NotificationDue
    occurrence_ms: int
    # Not delivered at or after this instant; None = no limit.
    expires_at_ms: int | None
    # Copied out of ``due``: protobuf makes a new str on every read of a string field, and a
    # delivery reads these several times.
    notification_id: str
    user_id: str
    # Encoded FCM messages shared by the notification's targets (see message.template).
    templates: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def expired(self, now_ms: int) -> bool:
        return self.expires_at_ms is not None and now_ms >= self.expires_at_ms


def parse(record: Record) -> Notification:
    """Raise InvalidRecord for a record the dispatcher can never deliver."""
    due = record.message
    if due is None:
        raise InvalidRecord("tombstone", "herald.notifications.due.v1 has no tombstones")
    if not isinstance(due, notifications_pb2.NotificationDue):
        raise InvalidRecord("unexpected-type", type(due).__name__)
    notification_id, user_id = due.notification_id, due.user_id
    if not notification_id or not user_id:
        raise InvalidRecord("incomplete", "notification_id and user_id are required")
    content = due.content
    if not (content.title or content.body or content.data):
        raise InvalidRecord("empty", "the notification has no title, body or data")
    for key in content.data:
        if key in _RESERVED_KEYS or key.startswith(_RESERVED_PREFIXES):
            raise InvalidRecord("reserved-data-key", f"FCM reserves the data key {key!r}")
    if content.click_link and not content.click_link.startswith("https://"):
        raise InvalidRecord("bad-click-link", "click_link must be an https URL")
    occurrence_ms = (
        to_ms(due.occurrence_at) if due.HasField("occurrence_at") else record.timestamp_ms
    )
    expires_at_ms = to_ms(due.expires_at) if due.HasField("expires_at") else None
    return Notification(record, due, occurrence_ms, expires_at_ms, notification_id, user_id)
