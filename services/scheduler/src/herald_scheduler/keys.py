"""Every Redis key of the scheduler, defined once.

A shard is one partition of the reminders topic. All keys of a shard share one Redis Cluster
hash tag, ``{<topic>/<partition>}``, so the Lua scripts that touch several of them stay on one
node.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "herald:scheduler"


@dataclass(frozen=True)
class ShardKeys:
    # Highest epoch that claimed the shard (the fencing token).
    fence: str
    # Highest topic offset reflected in this shard; absent = the index must be rebuilt.
    applied: str
    # Sorted set: reminder id -> fire time of its armed occurrence (ms).
    due: str
    # Sorted set: reminder id -> lease deadline (ms) while a release is in flight.
    lease: str
    # Hash: reminder id -> armed occurrence (ms).
    occurrence: str
    # Hash: reminder id -> the ReminderScheduled record as received.
    record: str
    # Hash: reminder id -> last released occurrence (ms) of a recurring reminder.
    last: str
    # Hash: reminder id -> its NotificationDue prepared at intake (one-shots; see prepared.py).
    prepared: str

    @classmethod
    def for_shard(cls, topic: str, partition: int) -> ShardKeys:
        base = f"{PREFIX}:{{{topic}/{partition}}}"
        return cls(
            fence=f"{base}:fence",
            applied=f"{base}:applied",
            due=f"{base}:due",
            lease=f"{base}:lease",
            occurrence=f"{base}:occ",
            record=f"{base}:rec",
            last=f"{base}:last",
            prepared=f"{base}:prep",
        )

    def all(self) -> list[str]:
        """In the order every Lua script of ``scripts.py`` expects them as KEYS."""
        return [
            self.fence,
            self.applied,
            self.due,
            self.lease,
            self.occurrence,
            self.record,
            self.last,
            self.prepared,
        ]
