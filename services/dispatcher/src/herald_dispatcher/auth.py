"""OAuth 2.0 access tokens for FCM from a service-account file (firebase-admin's credential,
google-auth's token exchange): cached, refreshed off the event loop before they expire."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC
from pathlib import Path

import google.auth.exceptions
import google.auth.transport.requests
from firebase_admin import credentials  # type: ignore[import-untyped]
from google.oauth2 import service_account


class CredentialError(Exception):
    """The service account cannot get an access token (a configuration problem)."""


class AccessTokens:
    """The bearer for one FCM project. ``bearer()`` is cheap while the cached token has more
    than ``refresh_margin_s`` left; one refresh runs at a time, in a worker thread."""

    def __init__(
        self, credential: service_account.Credentials, project_id: str, refresh_margin_s: float
    ) -> None:
        self.project_id = project_id
        self._credential = credential
        self._margin_s = refresh_margin_s
        self._token = ""
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self._request = google.auth.transport.requests.Request()

    @classmethod
    def from_file(cls, path: Path, refresh_margin_s: float) -> AccessTokens:
        certificate = credentials.Certificate(str(path))
        credential = certificate.get_credential()
        if not isinstance(credential, service_account.Credentials):
            raise CredentialError(f"{path} is not a service-account file")
        return cls(credential, certificate.project_id, refresh_margin_s)

    def cached(self) -> str:
        """The token while it has more than the margin left, else "" (then call ``bearer()``)."""
        if self._token and time.time() < self._expires_at - self._margin_s:
            return self._token
        return ""

    async def bearer(self) -> str:
        if self._token and time.time() < self._expires_at - self._margin_s:
            return self._token
        async with self._lock:
            if not self._token or time.time() >= self._expires_at - self._margin_s:
                await self._refresh()
            return self._token

    async def refresh(self, rejected: str) -> str:
        """A new token after FCM refused ``rejected`` (401); one refresh for all callers."""
        async with self._lock:
            if self._token == rejected:
                await self._refresh()
            return self._token

    async def _refresh(self) -> None:
        try:
            await asyncio.to_thread(self._credential.refresh, self._request)
        except google.auth.exceptions.RefreshError as exc:
            raise CredentialError(str(exc)) from exc
        self._token = str(self._credential.token)
        expiry = self._credential.expiry
        self._expires_at = (
            expiry.replace(tzinfo=UTC).timestamp() if expiry is not None else time.time() + 3600
        )
