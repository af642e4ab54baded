"""Pending reminders as the scheduler holds them in Redis (its keys are in herald_scheduler.keys):
per shard (a partition of herald.reminders.v1) the due sorted set, the lease set of reminders
being released right now, and the reminder records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from google.protobuf.message import DecodeError
from redis.asyncio import Redis

from herald import topics
from herald.v1 import reminders_pb2
from herald_scheduler.keys import ShardKeys


@dataclass(frozen=True)
class Pending:
    reminder_id: str
    shard: int
    fire_at_ms: int
    in_flight: bool
    reminder: reminders_pb2.ReminderScheduled | None

    def to_json(self) -> dict[str, Any]:
        reminder = self.reminder
        return {
            "reminder_id": self.reminder_id,
            "shard": self.shard,
            "fire_at": datetime.fromtimestamp(self.fire_at_ms / 1000, UTC).isoformat(),
            "in_flight": self.in_flight,
            "user_id": reminder.user_id if reminder else None,
            "title": reminder.content.title if reminder else None,
            "rrule": (reminder.rrule or None) if reminder else None,
            "time_zone": (reminder.time_zone or None) if reminder else None,
            "retry": bool(reminder and reminder.HasField("retry")),
        }


def _decode(raw: bytes | str | None) -> reminders_pb2.ReminderScheduled | None:
    if not isinstance(raw, bytes):
        return None
    try:
        return reminders_pb2.ReminderScheduled.FromString(raw)
    except DecodeError:
        return None


async def pending(
    redis: Redis, namespace: str = "", shards: int = topics.REMINDERS.partitions
) -> list[Pending]:
    """Every armed reminder of every shard, soonest first."""
    found: list[Pending] = []
    topic = namespace + topics.REMINDERS.name
    for shard in range(shards):
        keys = ShardKeys.for_shard(topic, shard)
        due = cast(list[tuple[bytes, float]], await redis.zrange(keys.due, 0, -1, withscores=True))
        leased = cast(list[bytes], await redis.zrange(keys.lease, 0, -1))
        in_flight = {member.decode() for member in leased}
        entries = [(member.decode(), int(score)) for member, score in due]
        ids = [reminder_id for reminder_id, _ in entries] + sorted(in_flight)
        records = await redis.hmget(keys.record, ids) if ids else []
        by_id = dict(zip(ids, records, strict=True))
        occurrences = await redis.hmget(keys.occurrence, sorted(in_flight)) if in_flight else []
        for reminder_id, fire_ms in entries:
            found.append(Pending(reminder_id, shard, fire_ms, False, _decode(by_id[reminder_id])))
        for reminder_id, occurrence in zip(sorted(in_flight), occurrences, strict=True):
            fire_ms = int(occurrence) if occurrence else 0
            found.append(Pending(reminder_id, shard, fire_ms, True, _decode(by_id[reminder_id])))
    found.sort(key=lambda p: p.fire_at_ms)
    return found
