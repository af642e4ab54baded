"""Error bodies in the shapes FCM HTTP v1 and Google's OAuth endpoint answer with."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiohttp import web

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"


class FcmErrorCode(StrEnum):
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    UNREGISTERED = "UNREGISTERED"
    SENDER_ID_MISMATCH = "SENDER_ID_MISMATCH"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"
    THIRD_PARTY_AUTH_ERROR = "THIRD_PARTY_AUTH_ERROR"


@dataclass(frozen=True, slots=True)
class _Shape:
    http_status: int
    status: str
    message: str


_SHAPES: dict[FcmErrorCode, _Shape] = {
    FcmErrorCode.INVALID_ARGUMENT: _Shape(
        400, "INVALID_ARGUMENT", "Request contains an invalid argument."
    ),
    FcmErrorCode.UNREGISTERED: _Shape(404, "NOT_FOUND", "Requested entity was not found."),
    FcmErrorCode.SENDER_ID_MISMATCH: _Shape(403, "PERMISSION_DENIED", "SenderId mismatch"),
    FcmErrorCode.QUOTA_EXCEEDED: _Shape(
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for quota metric 'Send requests' and limit "
        "'Send requests per minute' of service 'fcm.googleapis.com'.",
    ),
    FcmErrorCode.UNAVAILABLE: _Shape(503, "UNAVAILABLE", "The service is currently unavailable."),
    FcmErrorCode.INTERNAL: _Shape(500, "INTERNAL", "Internal error encountered."),
    FcmErrorCode.THIRD_PARTY_AUTH_ERROR: _Shape(
        401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service"
    ),
}


class FcmError(Exception):
    """A send that FCM answers with an error; `field` names the offending field, if any."""

    def __init__(
        self,
        code: FcmErrorCode,
        message: str | None = None,
        *,
        field: str | None = None,
        retry_after_s: int | None = None,
    ) -> None:
        self.code = code
        self.message = message or _SHAPES[code].message
        self.field = field
        self.retry_after_s = retry_after_s
        super().__init__(self.message)

    @property
    def http_status(self) -> int:
        return _SHAPES[self.code].http_status

    def body(self) -> dict[str, Any]:
        details: list[dict[str, Any]] = [{"@type": FCM_ERROR_TYPE, "errorCode": self.code.value}]
        if self.field is not None:
            violation = {"field": self.field, "description": self.message}
            details.append({"@type": BAD_REQUEST_TYPE, "fieldViolations": [violation]})
        shape = _SHAPES[self.code]
        return {
            "error": {
                "code": shape.http_status,
                "message": self.message,
                "status": shape.status,
                "details": details,
            }
        }

    def response(self) -> web.Response:
        headers = None
        if self.retry_after_s is not None:
            headers = {"Retry-After": str(self.retry_after_s)}
        return web.json_response(self.body(), status=self.http_status, headers=headers)


_GOOGLE_CREDENTIAL_HELP = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)


def unauthenticated(missing: bool) -> web.Response:
    """Google's answer to a request without a valid bearer token (no FcmError detail)."""
    if missing:
        message = (
            f"Request is missing required authentication credential. {_GOOGLE_CREDENTIAL_HELP}"
        )
    else:
        message = f"Request had invalid authentication credentials. {_GOOGLE_CREDENTIAL_HELP}"
    body = {"error": {"code": 401, "message": message, "status": "UNAUTHENTICATED"}}
    headers = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
    return web.json_response(body, status=401, headers=headers)


def permission_denied(project_id: str) -> web.Response:
    """Google's answer when the credential's project is not the project in the URL."""
    message = (
        f"Permission 'cloudmessaging.messages.create' denied on resource "
        f"'//cloudresourcemanager.googleapis.com/projects/{project_id}' (or it may not exist)."
    )
    body = {"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED"}}
    return web.json_response(body, status=403)


def oauth_error(error: str, description: str, status: int = 400) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)
