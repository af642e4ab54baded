"""Errors as RFC 9457 problem details (``application/problem+json``), for every 4xx and 5xx."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import asyncpg  # type: ignore[import-untyped,unused-ignore]
from aiohttp import web

from herald_token_api.names import PROBLEM_CONTENT_TYPE

log = logging.getLogger(__name__)

RETRY_AFTER_S = 2
PROBLEM_TYPE_PREFIX = "urn:herald:problem:"
# A database that cannot be reached or refuses work for now: the client should retry.
DATABASE_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
)
REASON_BY_STATUS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "body-too-large",
    415: "unsupported-media-type",
    422: "invalid-body",
}


class Problem(Exception):
    """Raised by handlers; becomes a problem+json response with ``reason`` as its type."""

    def __init__(
        self,
        status: int,
        reason: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {reason}: {detail}")
        self.status = status
        self.reason = reason
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def response(self) -> web.Response:
        body = {
            "type": PROBLEM_TYPE_PREFIX + self.reason,
            "title": HTTPStatus(self.status).phrase,
            "status": self.status,
            "detail": self.detail,
            "reason": self.reason,
            **self.extra,
        }
        return web.Response(
            status=self.status,
            text=json.dumps(body),
            content_type=PROBLEM_CONTENT_TYPE,
            headers=self.headers,
        )


def unavailable(reason: str, detail: str) -> Problem:
    return Problem(503, reason, detail, headers={"Retry-After": str(RETRY_AFTER_S)})


def _from_http_exception(exc: web.HTTPException) -> Problem:
    headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "WWW-Authenticate")}
    reason = REASON_BY_STATUS.get(exc.status, "error")
    detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
    return Problem(exc.status, reason, detail, headers=headers)


def problem_response(request: web.Request, exc: Exception) -> web.Response:
    """The problem+json response for what a handler raised; re-raises a redirect."""
    if isinstance(exc, Problem):
        return exc.response()
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        return _from_http_exception(exc).response()
    if isinstance(exc, asyncpg.exceptions.TransactionRollbackError):
        return unavailable("contention", "a concurrent change got in the way; retry").response()
    if isinstance(exc, DATABASE_UNAVAILABLE):
        log.warning("database unavailable: %r", exc)
        return unavailable("database-unavailable", "the database cannot be reached").response()
    log.error("unhandled error", exc_info=exc, extra={"route": request.path})
    return Problem(500, "internal-error", "an unexpected error occurred").response()
