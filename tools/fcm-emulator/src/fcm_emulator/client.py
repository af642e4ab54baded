"""A typed async client for the emulator's control API and browser side, for tests.

async with EmulatorClient("http://127.0.0.1:18080") as fcm:
    target = await fcm.issue_target("herald-dev")
    async with fcm.stream(target.target) as browser:
        ...  # send through FCM's API to target.target
        payload = await browser.receive()
"""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any

import aiohttp

from fcm_emulator.faults import FaultConfig
from fcm_emulator.records import ReceivedMessage
from fcm_emulator.targets import IssuedTarget, TargetKind


class EmulatorError(Exception):
    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body
        super().__init__(f"emulator answered {status}: {body}")


class BrowserStream:
    """One browser's connection: messages delivered to its target, in order."""

    def __init__(self, session: aiohttp.ClientSession, url: str, target: str) -> None:
        self._session = session
        self._url = url
        self._target = target
        self._response: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> BrowserStream:
        response = await self._session.get(
            self._url, params={"target": self._target}, timeout=aiohttp.ClientTimeout(total=None)
        )
        if response.status != 200:
            body = await response.text()
            response.release()
            raise EmulatorError(response.status, body)
        self._response = response
        await self._next_event("ready")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None

    async def _next_event(self, wanted: str) -> dict[str, Any]:
        if self._response is None:
            raise RuntimeError("the stream is not open")
        event, data = "message", ""
        while True:
            raw = await self._response.content.readline()
            if not raw:
                raise EmulatorError(0, "the stream ended")
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data += line[6:]
            elif not line and data:
                if event == wanted:
                    parsed: dict[str, Any] = json.loads(data)
                    return parsed
                event, data = "message", ""

    async def receive(self, timeout_s: float = 5.0) -> dict[str, Any]:
        """The next payload (the Firebase JS SDK's MessagePayload); TimeoutError if none comes."""
        async with asyncio.timeout(timeout_s):
            return await self._next_event("message")


class EmulatorClient:
    def __init__(
        self,
        base_url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def start(self) -> None:
        await self._started()

    async def _started(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def stop(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> EmulatorClient:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def send_url(self, project_id: str) -> str:
        """FCM's `messages:send` URL for `project_id` on this emulator."""
        return f"{self.base_url}/v1/projects/{project_id}/messages:send"

    async def _call(
        self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        session = await self._started()
        url = f"{self.base_url}{path}"
        async with session.request(method, url, json=body, params=params) as response:
            text = await response.text()
            if response.status >= 300:
                raise EmulatorError(response.status, text)
            return json.loads(text) if text else None

    async def messages(
        self, *, target: str | None = None, since: float | None = None, limit: int | None = None
    ) -> list[ReceivedMessage]:
        """Sends received (accepted or not), oldest first; `since` in Unix seconds, exclusive."""
        params = {}
        if target is not None:
            params["target"] = target
        if since is not None:
            params["since"] = repr(since)
        if limit is not None:
            params["limit"] = str(limit)
        found = await self._call("GET", "/emulator/v1/messages", params=params)
        return [ReceivedMessage.from_json(item) for item in found["messages"]]

    async def reset(self) -> None:
        await self._call("POST", "/emulator/v1/reset")

    async def faults(self) -> FaultConfig:
        return FaultConfig.from_json(await self._call("GET", "/emulator/v1/faults"))

    async def set_faults(self, config: FaultConfig) -> FaultConfig:
        return FaultConfig.from_json(
            await self._call("PUT", "/emulator/v1/faults", config.to_json())
        )

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/emulator/v1/faults")

    async def unregister_target(self, target: str) -> None:
        await self._call("POST", "/emulator/v1/targets:unregister", {"target": target})

    async def expire_target(self, target: str) -> None:
        await self._call("POST", "/emulator/v1/targets:expire", {"target": target})

    async def expire_access_tokens(self) -> None:
        await self._call("POST", "/emulator/v1/access-tokens:expire")

    async def stats(self) -> dict[str, Any]:
        found: dict[str, Any] = await self._call("GET", "/emulator/v1/stats")
        return found

    async def issue_target(
        self, project_id: str, kind: TargetKind = TargetKind.TOKEN, ttl_s: float | None = None
    ) -> IssuedTarget:
        body: dict[str, Any] = {"kind": kind.value}
        if ttl_s is not None:
            body["ttl_s"] = ttl_s
        path = f"/browser/v1/projects/{project_id}/targets"
        return IssuedTarget.from_json(await self._call("POST", path, body))

    async def rotate_target(self, target: str) -> IssuedTarget:
        found = await self._call("POST", "/browser/v1/targets:rotate", {"target": target})
        return IssuedTarget.from_json(found)

    async def delete_target(self, target: str) -> None:
        await self._call("POST", "/browser/v1/targets:delete", {"target": target})

    def stream(self, target: str) -> BrowserStream:
        """`async with client.stream(target) as browser:` opens the browser's connection."""
        if self._session is None:
            raise RuntimeError("start the client (or enter it) before opening a stream")
        return BrowserStream(self._session, f"{self.base_url}/browser/v1/stream", target)
