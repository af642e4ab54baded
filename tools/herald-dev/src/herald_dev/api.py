"""A small client for the token-api: the user endpoints (with a user's JWT) and the service
endpoints (with a service key), as a browser and a product service call them."""

from __future__ import annotations

import hashlib
from datetime import datetime
from types import TracebackType
from typing import Any

import aiohttp

SERVICE_KEY_HEADER = "X-Herald-Service-Key"


def target_id(target: str) -> str:
    """The id the token-api gives a target: the first 32 hex digits of its SHA-256."""
    return hashlib.sha256(target.encode()).hexdigest()[:32]


class ApiError(Exception):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} answered {status}: {body[:300]}")
        self.status = status
        self.body = body


class TokenApi:
    """``async with TokenApi(url, service_key=...) as api``; ``start``/``stop`` safe twice."""

    def __init__(self, base_url: str, *, service_key: str = "", timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.service_key = service_key
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=64)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)

    async def stop(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def __aenter__(self) -> TokenApi:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _call(self, method: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
        await self.start()
        assert self._session is not None
        async with self._session.request(
            method, self.base_url + path, json=body, headers=headers
        ) as response:
            text = await response.text()
            if response.status >= 400:
                raise ApiError(method, path, response.status, text)
            return await response.json() if text else None

    def _service(self) -> dict[str, str]:
        return {SERVICE_KEY_HEADER: self.service_key}

    @staticmethod
    def _user(jwt: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {jwt}"}

    async def register(
        self, jwt: str, target: str, *, kind: str = "token", project_id: str = "", label: str = ""
    ) -> dict[str, Any]:
        body: dict[str, Any] = {kind: target, "platform": "web"}
        if project_id:
            body["project_id"] = project_id
        if label:
            body["device_label"] = label
        found: dict[str, Any] = await self._call("PUT", "/v1/targets", self._user(jwt), body)
        return found

    async def targets(self, jwt: str) -> list[dict[str, Any]]:
        found = await self._call("GET", "/v1/targets", self._user(jwt))
        return list(found["targets"])

    async def unregister(self, jwt: str, target: str) -> None:
        await self._call("DELETE", f"/v1/targets/{target_id(target)}", self._user(jwt))

    async def schedule(
        self,
        user_id: str,
        content: dict[str, Any],
        fire_at: datetime,
        expires_at: datetime,
        *,
        reminder_id: str | None = None,
        rrule: str | None = None,
        time_zone: str = "UTC",
    ) -> str:
        body: dict[str, Any] = {
            "user_id": user_id,
            "content": content,
            "fire_at": fire_at.isoformat(),
            "expires_at": expires_at.isoformat(),
            "time_zone": time_zone,
        }
        if reminder_id:
            body["reminder_id"] = reminder_id
        if rrule:
            body["rrule"] = rrule
        found = await self._call("POST", "/v1/reminders", self._service(), body)
        return str(found["reminder_id"])

    async def cancel(self, reminder_id: str) -> None:
        await self._call("DELETE", f"/v1/reminders/{reminder_id}", self._service())

    async def send_now(self, user_id: str, content: dict[str, Any], *, ttl_s: int = 3600) -> str:
        body = {"user_id": user_id, "content": content, "ttl_s": ttl_s}
        found = await self._call("POST", "/v1/notifications", self._service(), body)
        return str(found["notification_id"])
