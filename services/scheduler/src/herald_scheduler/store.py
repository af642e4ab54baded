"""One shard's index in Redis, moved only through the Lua scripts of ``scripts.py``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple

from herald_scheduler import scripts
from herald_scheduler.batching import ScriptBatcher
from herald_scheduler.keys import ShardKeys

SCRIPTS = {
    name: getattr(scripts, name)
    for name in (
        "ACQUIRE",
        "RECLAIM",
        "STATUS",
        "UPSERT",
        "CANCEL",
        "TAKE",
        "COMPLETE",
        "BUMP",
        "WIPE",
        "LOAD",
        "SEAL",
    )
}


class Fenced(Exception):
    """A later epoch (another instance) claimed the shard."""


class Lost(Exception):
    """The shard's state is gone from Redis (flushed or replaced): it must be rebuilt."""


class Upserted(Enum):
    APPLIED = "applied"
    # The record was applied before (offset at or below the shard's watermark).
    SEEN = "seen"
    # The same record is stored already.
    SAME = "same"


@dataclass(frozen=True)
class Retry:
    """The last released occurrence changed meanwhile; arm again from this one."""

    last_ms: int | None


class Taken(NamedTuple):
    """A reminder taken into in-flight (a tuple: tens of thousands are made per second)."""

    reminder_id: str
    occurrence_ms: int
    record: bytes
    # Its NotificationDue prepared at intake (prepared.py); None when it has none.
    prepared: bytes | None = None


@dataclass(frozen=True)
class TakeResult:
    taken: list[Taken]
    lapsed: int
    next_due_ms: int | None
    next_lease_ms: int | None
    pending: int


@dataclass(frozen=True)
class Loaded:
    reminder_id: str
    record: bytes
    occurrence_ms: int
    last_ms: int | None
    prepared: bytes | None = None


def _optional_ms(raw: bytes) -> int | None:
    return int(float(raw)) if raw else None


class ShardStore:
    def __init__(self, batcher: ScriptBatcher, keys: ShardKeys) -> None:
        self.redis = batcher.redis
        self.keys = keys
        self._batcher = batcher
        self._key_list = keys.all()

    async def _run(self, name: str, args: Sequence[Any]) -> list[Any]:
        reply: list[Any] = await self._batcher.run(name, self._key_list, args)
        status = reply[0]
        if status == b"FENCED":
            raise Fenced(self.keys.fence)
        if status == b"LOST":
            raise Lost(self.keys.applied)
        return reply

    async def acquire(self, now_ms: int) -> int:
        """Claim the shard with an epoch later than any before; returns it."""
        epoch: bytes = await self._batcher.run("ACQUIRE", self._key_list, [now_ms])
        return int(epoch)

    async def reclaim(self, epoch: int) -> None:
        await self._run("RECLAIM", [epoch])

    async def applied(self, epoch: int) -> int:
        """The highest topic offset the shard reflects; raises Lost or Fenced."""
        reply = await self._run("STATUS", [epoch])
        return int(reply[1])

    async def upsert(
        self,
        epoch: int,
        offset: int,
        reminder_id: str,
        record: bytes,
        occurrence_ms: int | None,
        expected_last: int | str | None,
        prepared: bytes | None = None,
    ) -> Upserted | Retry:
        """Store and arm a reminder (``occurrence_ms`` None forgets it: nothing left to
        release). ``expected_last`` "*" skips the check of the last released occurrence.
        ``prepared`` is its NotificationDue made ahead (prepared.py), stored beside it."""
        occurrence = "" if occurrence_ms is None else occurrence_ms
        expected = "" if expected_last is None else expected_last
        reply = await self._run(
            "UPSERT",
            [epoch, offset, reminder_id, record, occurrence, expected, prepared or b""],
        )
        if reply[0] == b"RETRY":
            return Retry(_optional_ms(reply[1]))
        return {b"OK": Upserted.APPLIED, b"SEEN": Upserted.SEEN}.get(reply[0], Upserted.SAME)

    async def cancel(self, epoch: int, offset: int, reminder_id: str) -> bool:
        """Forget a reminder; False when the record was applied before."""
        reply = await self._run("CANCEL", [epoch, offset, reminder_id])
        return bool(reply[0] == b"OK")

    async def take(self, epoch: int, now_ms: int, lease_deadline_ms: int, limit: int) -> TakeResult:
        reply = await self._run("TAKE", [epoch, now_ms, lease_deadline_ms, limit])
        items = reply[5:]
        taken = [
            Taken(items[i].decode(), int(items[i + 1]), items[i + 2], items[i + 3] or None)
            for i in range(0, len(items), 4)
        ]
        return TakeResult(
            taken=taken,
            lapsed=int(reply[1]),
            next_due_ms=_optional_ms(reply[2]),
            next_lease_ms=_optional_ms(reply[3]),
            pending=int(reply[4]),
        )

    async def complete(self, epoch: int, done: Sequence[tuple[str, int, int | None]]) -> set[str]:
        """For each (id, taken occurrence, next occurrence or None): re-arm or forget, unless
        it was rescheduled or cancelled since it was taken; returns the ids that were."""
        triples = [
            (reminder_id, str(taken_ms), "" if next_ms is None else str(next_ms))
            for reminder_id, taken_ms, next_ms in done
        ]
        reply = await self._run("COMPLETE", [epoch, json.dumps(triples, ensure_ascii=False)])
        return {reminder_id.decode() for reminder_id in reply[1:]}

    async def bump(self, epoch: int, offset: int) -> None:
        await self._run("BUMP", [epoch, offset])

    async def record(self, reminder_id: str) -> bytes | None:
        record = await self.redis.hget(self.keys.record, reminder_id)
        assert record is None or isinstance(record, bytes)
        return record

    async def last_released(self) -> dict[str, int]:
        raw = await self.redis.hgetall(self.keys.last)
        return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}

    async def wipe(self, epoch: int) -> None:
        await self._run("WIPE", [epoch])

    async def load(self, epoch: int, entries: Sequence[Loaded]) -> None:
        args: list[Any] = [epoch]
        for e in entries:
            args += [
                e.reminder_id,
                e.record,
                e.occurrence_ms,
                "" if e.last_ms is None else e.last_ms,
                e.prepared or b"",
            ]
        await self._run("LOAD", args)

    async def seal(self, epoch: int, offset: int) -> None:
        await self._run("SEAL", [epoch, offset])
