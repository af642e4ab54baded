"""What the emulator received: every authenticated send, accepted or not, newest last."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One send request. `name` is set when FCM accepted it, `error_code` when it did not;
    `message` is the `message` object as sent; `received_at` is in Unix seconds."""

    received_at: float
    project_id: str
    target_kind: str | None
    target: str | None
    validate_only: bool
    status: int
    name: str | None
    error_code: str | None
    message: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "received_at": self.received_at,
            "project_id": self.project_id,
            "target_kind": self.target_kind,
            "target": self.target,
            "validate_only": self.validate_only,
            "status": self.status,
            "name": self.name,
            "error_code": self.error_code,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ReceivedMessage:
        return cls(
            received_at=float(obj["received_at"]),
            project_id=str(obj["project_id"]),
            target_kind=obj.get("target_kind"),
            target=obj.get("target"),
            validate_only=bool(obj["validate_only"]),
            status=int(obj["status"]),
            name=obj.get("name"),
            error_code=obj.get("error_code"),
            message=obj.get("message"),
        )


class MessageLog:
    """A bounded record of sends plus running totals by outcome (kept across evictions)."""

    def __init__(self, max_records: int) -> None:
        self._records: deque[ReceivedMessage] = deque(maxlen=max_records)
        self.totals: Counter[str] = Counter()

    def add(self, record: ReceivedMessage) -> None:
        self._records.append(record)
        self.totals[record.error_code or "ACCEPTED"] += 1

    def clear(self) -> None:
        self._records.clear()
        self.totals.clear()

    def query(
        self, target: str | None, since: float | None, limit: int | None
    ) -> list[ReceivedMessage]:
        found = [
            record
            for record in self._records
            if (target is None or record.target == target)
            and (since is None or record.received_at > since)
        ]
        return found if limit is None else found[-limit:]
