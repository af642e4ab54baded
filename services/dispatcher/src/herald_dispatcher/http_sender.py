"""The FCM sender Herald uses: firebase-admin's encoding, its own keep-alive HTTP/1.1 pool.

firebase-admin 7.7's ``send_each_async`` goes through httpx, whose connection pool tops out
at a few hundred sends a second; this posts the same request body over keep-alive HTTP/1.1
connections (``http1.py``), one pool sized to the in-flight bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping

import google.auth.exceptions
from yarl import URL

from herald_dispatcher import fcm
from herald_dispatcher.auth import AccessTokens, CredentialError
from herald_dispatcher.fcm import FcmRequest, FcmResponse, SendByPassed
from herald_dispatcher.http1 import Http1Pool, HttpError, TooLate
from herald_dispatcher.timing import now_ms

_HEADERS = (
    b"Content-Type: application/json; charset=UTF-8\r\n"
    b"X-GOOG-API-FORMAT-VERSION: 2\r\n"
    b"X-Firebase-Client: herald-dispatcher\r\n"
)


def send_url(base_url: str, project_id: str) -> str:
    return f"{base_url.rstrip('/')}/v1/projects/{project_id}/messages:send"


class HttpFcmSender:
    def __init__(
        self,
        base_url: str,
        tokens: Mapping[str, AccessTokens],
        *,
        max_in_flight: int,
        timeout_s: float,
    ) -> None:
        self._tokens = dict(tokens)
        self._base_url = base_url
        self._paths = {
            project: URL(send_url(base_url, project)).raw_path_qs.encode() for project in tokens
        }
        # Request line and headers per project, for the bearer in use (rebuilt when it changes).
        self._heads: dict[str, tuple[str, bytes]] = {}
        self._max_in_flight = max_in_flight
        self._timeout_s = timeout_s
        self._pool: Http1Pool | None = None

    async def start(self) -> None:
        if self._pool is None:
            self._pool = Http1Pool(
                self._base_url, max_connections=self._max_in_flight, timeout_s=self._timeout_s
            )

    async def stop(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def send(self, request: FcmRequest) -> FcmResponse:
        tokens = self._tokens[request.project_id]
        bearer = tokens.cached() or await _bearer(tokens.bearer())
        if isinstance(bearer, FcmResponse):
            return bearer
        response = await self._post(request, bearer)
        if response.http_status != 401 or response.fcm_error:
            return response
        # Herald's access token was refused (revoked or expired early): refresh once.
        bearer = await _bearer(tokens.refresh(bearer))
        if isinstance(bearer, FcmResponse):
            return bearer
        return await self._post(request, bearer)

    async def _post(self, request: FcmRequest, bearer: str) -> FcmResponse:
        pool = self._pool
        if pool is None:
            raise RuntimeError("the sender is not started")
        send_by = None
        if request.send_by_ms is not None:
            # A token refresh or a new connection can take long: the pool checks once it has a
            # connection, just before the bytes are written.
            loop = asyncio.get_running_loop()
            send_by = loop.time() + (request.send_by_ms - now_ms()) / 1000
        project = request.project_id
        cached = self._heads.get(project)
        if cached is None or cached[0] != bearer:
            head = b"POST %s HTTP/1.1\r\nHost: %s\r\n%sAuthorization: Bearer %s\r\n" % (
                self._paths[project],
                pool.host_header.encode(),
                _HEADERS,
                bearer.encode(),
            )
            cached = self._heads[project] = (bearer, head)
        try:
            answer = await pool.post(cached[1], request.body, send_by)
        except TooLate:
            raise SendByPassed from None
        except HttpError as exc:
            return fcm.transport_error(exc)
        if answer.status < 300:
            return fcm.success(answer.status, answer.body)
        return fcm.error(answer.status, answer.body, answer.retry_after)


async def _bearer(fetch: Awaitable[str]) -> str | FcmResponse:
    """The access token, or the answer to report when none can be had."""
    try:
        return await fetch
    except CredentialError as exc:
        return FcmResponse(401, error_code="UNAUTHENTICATED", message=str(exc))
    except google.auth.exceptions.TransportError as exc:
        return fcm.transport_error(exc)
