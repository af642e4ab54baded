"""A validated ReminderScheduled and the arithmetic of its occurrences."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from herald.codec import InvalidRecord
from herald.v1 import reminders_pb2
from herald_scheduler.recurrence import BadRule, Recurrence, UnknownZone, recurrence, zone

DAY_MS = 24 * 3600 * 1000


def to_ms(stamp: Timestamp) -> int:
    """Milliseconds since the epoch, rounded up so nothing is released before the instant."""
    return stamp.seconds * 1000 + -(-stamp.nanos // 1_000_000)


@dataclass(frozen=True)
class Reminder:
    key: str
    message: reminders_pb2.ReminderScheduled
    fire_at_ms: int
    # No occurrence at or after this instant is released.
    expires_at_ms: int | None
    # How long each occurrence stays worth delivering (0 = until expires_at).
    occurrence_ttl_ms: int
    recurrence: Recurrence | None

    @property
    def is_retry(self) -> bool:
        return self.message.HasField("retry")

    def notification_id(self, occurrence_ms: int) -> str:
        if self.is_retry:
            return self.message.retry.notification_id
        return f"{self.key}@{occurrence_ms}"

    def arm(self, *, now_ms: int, last_ms: int | None, catchup_ms: int) -> int | None:
        """The occurrence to arm; None when nothing is left to release.

        A one-shot reminder fires at fire_at even when that has passed. A recurring one arms its
        first occurrence after ``last_ms`` (the last one released) that is not older than the
        catch-up window (occurrence_ttl_s when set) and not at or after expires_at.
        """
        if self.recurrence is None:
            return self.fire_at_ms
        window_ms = self.occurrence_ttl_ms or catchup_ms
        not_before_ms = max(self.fire_at_ms, now_ms - window_ms)
        if last_ms is not None:
            not_before_ms = max(not_before_ms, last_ms + 1)
        return self._unexpired(self.recurrence.first_at_or_after(not_before_ms))

    def next_after(self, occurrence_ms: int) -> int | None:
        """The occurrence after ``occurrence_ms``; None for one-shots and exhausted rules."""
        if self.recurrence is None:
            return None
        return self._unexpired(self.recurrence.first_after(occurrence_ms))

    def occurrence_expires_ms(self, occurrence_ms: int) -> int | None:
        """From this instant on the occurrence is not delivered any more."""
        limits = [self.expires_at_ms] if self.expires_at_ms is not None else []
        if self.occurrence_ttl_ms:
            limits.append(occurrence_ms + self.occurrence_ttl_ms)
        return min(limits) if limits else None

    def _unexpired(self, occurrence_ms: int | None) -> int | None:
        if occurrence_ms is None:
            return None
        if self.expires_at_ms is not None and occurrence_ms >= self.expires_at_ms:
            return None
        return occurrence_ms


def parse(
    key: str | None, message: reminders_pb2.ReminderScheduled, *, received_ms: int, horizon_ms: int
) -> Reminder:
    """Validate a record of the reminders topic; raise InvalidRecord(reason, detail)."""
    if not key:
        raise InvalidRecord("missing-key", "the record key must be the reminder id")
    is_retry = message.HasField("retry")
    if not is_retry and message.reminder_id != key:
        raise InvalidRecord("key-mismatch", f"key {key!r} != reminder_id {message.reminder_id!r}")
    if not message.user_id:
        raise InvalidRecord("missing-user", "user_id is empty")
    if not message.HasField("fire_at"):
        raise InvalidRecord("missing-fire-time", "fire_at is not set")
    if is_retry and (not message.retry.notification_id or message.rrule):
        raise InvalidRecord("bad-retry", "a hand-back needs a notification_id and cannot recur")
    if message.occurrence_ttl_s < 0:
        raise InvalidRecord("bad-ttl", f"occurrence_ttl_s {message.occurrence_ttl_s} < 0")
    fire_at_ms = to_ms(message.fire_at)
    if fire_at_ms > received_ms + horizon_ms:
        days = (fire_at_ms - received_ms) // DAY_MS
        raise InvalidRecord("beyond-horizon", f"fire_at is {days} days ahead of the record")
    reminder = _reminder(key, message)
    rule = reminder.recurrence
    if rule is not None and rule.first_at_or_after(reminder.fire_at_ms) is None:
        raise InvalidRecord("no-occurrence", f"{message.rrule!r} yields no occurrence")
    return reminder


def _reminder(key: str, message: reminders_pb2.ReminderScheduled) -> Reminder:
    fire_at_ms = to_ms(message.fire_at)
    try:
        zone(message.time_zone)
        rule = (
            recurrence(message.rrule, message.time_zone, fire_at_ms // 1000)
            if message.rrule
            else None
        )
    except UnknownZone as exc:
        raise InvalidRecord("unknown-time-zone", str(exc)) from exc
    except BadRule as exc:
        raise InvalidRecord("bad-rrule", str(exc)) from exc
    return Reminder(
        key=key,
        message=message,
        # Recurrences run on whole seconds: the rule starts at fire_at's second.
        fire_at_ms=fire_at_ms // 1000 * 1000 if rule else fire_at_ms,
        expires_at_ms=to_ms(message.expires_at) if message.HasField("expires_at") else None,
        occurrence_ttl_ms=message.occurrence_ttl_s * 1000,
        recurrence=rule,
    )


def stored(key: str, payload: bytes) -> Reminder:
    """A reminder read back from Redis; it was validated when it was stored."""
    try:
        message = reminders_pb2.ReminderScheduled.FromString(payload)
    except DecodeError as exc:
        raise InvalidRecord("undecodable", str(exc)) from exc
    return _reminder(key, message)
