"""The FCM sender Herald uses: firebase-admin's encoding, its own pooled aiohttp client.

firebase-admin 7.7's ``send_each_async`` goes through httpx, whose connection pool tops out
at a few hundred sends a second; this posts the same request body over keep-alive HTTP/1.1
connections, one pool sized to the in-flight bound.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping

import aiohttp
import google.auth.exceptions
from yarl import URL

from herald_dispatcher import fcm
from herald_dispatcher.auth import AccessTokens, CredentialError
from herald_dispatcher.fcm import FcmRequest, FcmResponse

_HEADERS = {
    "Content-Type": "application/json; charset=UTF-8",
    "X-GOOG-API-FORMAT-VERSION": "2",
    "X-Firebase-Client": "herald-dispatcher",
}


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
        self._urls = {project: URL(send_url(base_url, project)) for project in tokens}
        # Request headers for the bearer in use (rebuilt when it changes).
        self._headers: tuple[str, dict[str, str]] = ("", {})
        self._max_in_flight = max_in_flight
        self._timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_in_flight,
                limit_per_host=self._max_in_flight,
                keepalive_timeout=60.0,
                ttl_dns_cache=300,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self._timeout_s),
                cookie_jar=aiohttp.DummyCookieJar(),
            )

    async def stop(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def send(self, request: FcmRequest) -> FcmResponse:
        tokens = self._tokens[request.project_id]
        bearer = tokens.cached() or await _bearer(tokens.bearer())
        if isinstance(bearer, FcmResponse):
            return bearer
        response = await self._post(self._urls[request.project_id], request.body, bearer)
        if response.http_status != 401 or response.fcm_error:
            return response
        # Herald's access token was refused (revoked or expired early): refresh once.
        bearer = await _bearer(tokens.refresh(bearer))
        if isinstance(bearer, FcmResponse):
            return bearer
        return await self._post(self._urls[request.project_id], request.body, bearer)

    async def _post(self, url: URL, body: bytes, bearer: str) -> FcmResponse:
        if self._session is None:
            raise RuntimeError("the sender is not started")
        if self._headers[0] != bearer:
            self._headers = (bearer, {**_HEADERS, "Authorization": f"Bearer {bearer}"})
        headers = self._headers[1]
        try:
            async with self._session.post(url, data=body, headers=headers) as answer:
                raw = await answer.read()
                status = answer.status
                if status < 300:
                    return fcm.success(status, raw)
                retry_after = answer.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return fcm.transport_error(exc)
        return fcm.error(status, raw, retry_after)


async def _bearer(fetch: Awaitable[str]) -> str | FcmResponse:
    """The access token, or the answer to report when none can be had."""
    try:
        return await fetch
    except CredentialError as exc:
        return FcmResponse(401, error_code="UNAUTHENTICATED", message=str(exc))
    except google.auth.exceptions.TransportError as exc:
        return fcm.transport_error(exc)
