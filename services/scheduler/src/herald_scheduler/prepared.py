"""A one-shot reminder's NotificationDue, prepared when the reminder is stored.

A one-shot reminder has exactly one occurrence, known at intake, so everything its
NotificationDue carries except event_id and occurred_at is known then too. Intake stores it
beside the record (Redis hash ``prep``), and a release completes it with ``DueStamp`` instead of
decoding the record and building a message per reminder: in a burst that per-reminder work
was the largest cost of releasing. The Kafka partitioner's hash of the key (the user id) is
kept too, so the release does not compute it either.

Layout: a header (format version, the occurrence and its expiry in ms (-1: none), partitioner
hash of the user id, length of the user id), the user id (UTF-8), the serialized body. A form
that is missing, of another version or for another occurrence is not an error: the release
falls back to the record.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from aiokafka.partitioner import murmur2

from herald_scheduler.events import notification_body
from herald_scheduler.reminder import Reminder

_VERSION = 1
_HEADER = struct.Struct(">BqqIH")
_NO_EXPIRY = -1
_MAX_USER_BYTES = 0xFFFF


class Prepared(NamedTuple):
    occurrence_ms: int
    user_id: str
    # Kafka's default partitioner hash of the user id (partition = hash % partition count).
    key_hash: int
    # The occurrence is not released from this instant on; None: it does not expire.
    expires_ms: int | None
    # The serialized NotificationDue without event_id and occurred_at.
    body: bytes


def key_hash(key: bytes) -> int:
    """The hash Kafka's default partitioner (murmur2, as the Java client) gives ``key``."""
    return int(murmur2(key)) & 0x7FFFFFFF


def prepare(reminder: Reminder) -> bytes | None:
    """The prepared NotificationDue of a one-shot reminder; None for a recurring one (each
    occurrence differs, and re-arming needs the record anyway)."""
    if reminder.recurrence is not None:
        return None
    occurrence_ms = reminder.fire_at_ms
    body = notification_body(reminder, occurrence_ms)
    user = body.user_id.encode()
    if len(user) > _MAX_USER_BYTES:
        return None
    expires_ms = reminder.occurrence_expires_ms(occurrence_ms)
    header = _HEADER.pack(
        _VERSION,
        occurrence_ms,
        _NO_EXPIRY if expires_ms is None else expires_ms,
        key_hash(user),
        len(user),
    )
    return header + user + body.SerializeToString()


def read(blob: bytes) -> Prepared | None:
    """The prepared form stored at intake; None when it is of another format version."""
    if len(blob) < _HEADER.size or blob[0] != _VERSION:
        return None
    _, occurrence_ms, expires_ms, hashed, user_length = _HEADER.unpack_from(blob)
    start = _HEADER.size
    return Prepared(
        occurrence_ms,
        blob[start : start + user_length].decode(),
        hashed,
        None if expires_ms == _NO_EXPIRY else expires_ms,
        blob[start + user_length :],
    )
