"""Push targets (registration tokens and Firebase Installation IDs) and what FCM says of them."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fcm_emulator.errors import FcmError, FcmErrorCode

TOKEN_RE = re.compile(r"[A-Za-z0-9_:\-]{8,4096}")
FID_RE = re.compile(r"[A-Za-z0-9_\-]{8,64}")


class TargetKind(StrEnum):
    TOKEN = "token"
    FID = "fid"


class DeadReason(StrEnum):
    ROTATED = "rotated"
    DELETED = "deleted"
    UNREGISTERED = "unregistered"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class IssuedTarget:
    target: str
    kind: TargetKind
    project_id: str
    issued_at: float
    expires_at: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "kind": self.kind.value,
            "project_id": self.project_id,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> IssuedTarget:
        return cls(
            target=str(obj["target"]),
            kind=TargetKind(obj["kind"]),
            project_id=str(obj["project_id"]),
            issued_at=float(obj["issued_at"]),
            expires_at=None if obj.get("expires_at") is None else float(obj["expires_at"]),
        )


def new_fid() -> str:
    """22 URL-safe base64 characters of a 128-bit value whose first four bits are 0111."""
    raw = bytearray(secrets.token_bytes(16))
    raw[0] = 0x70 | (raw[0] & 0x0F)
    return base64.urlsafe_b64encode(bytes(raw)).decode()[:22]


def new_token() -> str:
    """The shape of a web registration token: `<fid>:APA91b<134 characters>`."""
    return f"{new_fid()}:APA91b{secrets.token_urlsafe(101)[:134]}"


def malformed(kind: str) -> FcmError:
    if kind == TargetKind.FID:
        message = "The Firebase Installation ID is not a valid FID"
    else:
        message = "The registration token is not a valid FCM registration token"
    return FcmError(FcmErrorCode.INVALID_ARGUMENT, message, field=f"message.{kind}")


class TargetRegistry:
    """Issued targets by value. A target that is well formed but was never issued is accepted
    unless `strict`, so load tests can send to synthetic targets."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self._live: dict[str, IssuedTarget] = {}
        self._dead: dict[str, DeadReason] = {}

    def clear(self) -> None:
        self._live.clear()
        self._dead.clear()

    def issue(
        self, project_id: str, kind: TargetKind, now: float, ttl_s: float | None
    ) -> IssuedTarget:
        value = new_fid() if kind is TargetKind.FID else new_token()
        expires_at = None if ttl_s is None else now + ttl_s
        issued = IssuedTarget(value, kind, project_id, now, expires_at)
        self._live[value] = issued
        return issued

    def get(self, target: str, now: float) -> IssuedTarget | None:
        issued = self._live.get(target)
        if issued is not None and issued.expires_at is not None and issued.expires_at <= now:
            self.kill(target, DeadReason.EXPIRED)
            return None
        return issued

    def dead_reason(self, target: str, now: float) -> DeadReason | None:
        self.get(target, now)
        return self._dead.get(target)

    def kill(self, target: str, reason: DeadReason) -> None:
        """From now on FCM answers UNREGISTERED for `target`, issued here or not."""
        self._live.pop(target, None)
        self._dead[target] = reason

    def rotate(self, target: str, now: float) -> IssuedTarget | None:
        old = self.get(target, now)
        if old is None:
            return None
        self.kill(target, DeadReason.ROTATED)
        ttl_s = None if old.expires_at is None else old.expires_at - old.issued_at
        return self.issue(old.project_id, old.kind, now, ttl_s)

    def check(self, kind: str, target: str, project_id: str, now: float) -> None:
        """Raise the error FCM would answer a send to `target` in `project_id` with."""
        pattern = FID_RE if kind == TargetKind.FID else TOKEN_RE
        if not pattern.fullmatch(target):
            raise malformed(kind)
        issued = self.get(target, now)
        if issued is None:
            if self.strict or target in self._dead:
                raise FcmError(FcmErrorCode.UNREGISTERED)
            return
        if issued.kind != kind:
            raise malformed(kind)
        if issued.project_id != project_id:
            raise FcmError(FcmErrorCode.SENDER_ID_MISMATCH)
