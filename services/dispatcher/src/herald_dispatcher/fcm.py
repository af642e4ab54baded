"""The FCM sender plug point and FCM's answers: success, its error model, Retry-After."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from firebase_admin import messaging  # type: ignore[import-untyped]

from herald_dispatcher.timing import now_ms

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
# error_code of a request that got no answer (connection refused or reset, timeout).
TRANSPORT = "TRANSPORT"
_TARGET_FIELDS = frozenset({"message.token", "message.fid"})
_TARGET_WORDS = ("registration token", "installation id")


@dataclass(frozen=True, slots=True)
class FcmRequest:
    project_id: str
    # The request body firebase-admin's encoder made of the message.
    body: bytes
    # The message as firebase-admin models it, for senders that go through the SDK (built on
    # demand: the HTTP sender needs only the body).
    message: Callable[[], messaging.Message]
    # Wall-clock ms after which the request must not leave (the notification's expiry less the
    # margin); None = no limit.
    send_by_ms: int | None = None

    def too_late(self) -> bool:
        return self.send_by_ms is not None and now_ms() >= self.send_by_ms


class SendByPassed(Exception):
    """The request did not leave: its send-by time passed while the sender was getting an access
    token or a connection. Nothing reached FCM."""


@dataclass(frozen=True, slots=True)
class FcmResponse:
    # 0 when no answer arrived.
    http_status: int
    # FCM's message name ("projects/P/messages/ID") when the message was accepted.
    name: str = ""
    # The FcmError errorCode when FCM gave one, else error.status, else TRANSPORT.
    error_code: str = ""
    # Whether the answer carried an FcmError detail (401 without one is Herald's credential).
    fcm_error: bool = False
    message: str = ""
    # INVALID_ARGUMENT that names the token or fid rather than the payload.
    about_target: bool = False
    retry_after_s: float | None = None

    @property
    def accepted(self) -> bool:
        return 200 <= self.http_status < 300 and bool(self.name)


class FcmSender(Protocol):
    """Posts one message to FCM's ``messages:send`` and returns FCM's answer (never raises for
    an answer or a network failure). Raises SendByPassed, having sent nothing, when the
    request's send-by time has passed before its bytes would be written."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, request: FcmRequest) -> FcmResponse: ...


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def success(status: int, raw: bytes) -> FcmResponse:
    try:
        name = json.loads(raw)["name"]
    except (ValueError, KeyError, TypeError):
        return FcmResponse(status, error_code="INTERNAL", message="answer without a name")
    return FcmResponse(status, name=str(name))


def error(status: int, raw: bytes, retry_after: str | None) -> FcmResponse:
    """FCM's error body: ``error.details[].errorCode`` of the FcmError detail, else
    ``error.status``; a field violation on the target marks an INVALID_ARGUMENT about it."""
    body: Any = None
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return FcmResponse(
            status,
            error_code=_status_name(status),
            message=raw[:200].decode("utf-8", "replace"),
            retry_after_s=parse_retry_after(retry_after),
        )
    code = ""
    fields: set[str] = set()
    for detail in err.get("details") or ():
        if not isinstance(detail, dict):
            continue
        if detail.get("@type") == FCM_ERROR_TYPE and detail.get("errorCode"):
            code = str(detail["errorCode"])
        elif detail.get("@type") == BAD_REQUEST_TYPE:
            fields.update(str(v.get("field", "")) for v in detail.get("fieldViolations") or () if v)
    message = str(err.get("message", ""))
    return FcmResponse(
        status,
        error_code=code or str(err.get("status") or _status_name(status)),
        fcm_error=bool(code),
        message=message,
        about_target=bool(fields & _TARGET_FIELDS)
        or any(word in message.lower() for word in _TARGET_WORDS),
        retry_after_s=parse_retry_after(retry_after),
    )


def transport_error(exc: BaseException) -> FcmResponse:
    return FcmResponse(0, error_code=TRANSPORT, message=str(exc) or type(exc).__name__)


def _status_name(status: int) -> str:
    return {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
    }.get(status, f"HTTP_{status}")
