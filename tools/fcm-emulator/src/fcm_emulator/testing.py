"""Running the emulator inside a test process, and talking to FCM's endpoints without an SDK.

The emulator gets its own thread and event loop, so that a blocking caller on the test's loop
(firebase-admin refreshes its access token with google-auth over `requests`) cannot stall it.

    with run_in_thread(tmp_path) as emulator:
        info = emulator.service_account("herald-dev")  # trusted at once
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import jwt
from aiohttp import web

from fcm_emulator import service_account
from fcm_emulator.app import LISTEN_BACKLOG, create_app
from fcm_emulator.oauth import GOOGLE_TOKEN_URI, JWT_BEARER_GRANT
from fcm_emulator.settings import Settings

MESSAGING_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


@dataclass(frozen=True, slots=True)
class RunningEmulator:
    url: str
    keys_dir: Path

    def service_account(self, project_id: str) -> dict[str, str]:
        """A new service-account document for `project_id`, written where the emulator trusts
        it; pass it to firebase-admin's `credentials.Certificate`."""
        info = service_account.generate(project_id, self.url, name=f"sa-{uuid.uuid4().hex[:8]}")
        service_account.write(self.keys_dir / f"{info['client_email']}.json", info)
        return info

    def send_url(self, project_id: str) -> str:
        return f"{self.url}/v1/projects/{project_id}/messages:send"


@contextlib.contextmanager
def run_in_thread(keys_dir: Path, settings: Settings | None = None) -> Iterator[RunningEmulator]:
    """An emulator on 127.0.0.1 on a free port that trusts the accounts in `keys_dir`."""
    base = settings or Settings(log_requests=False)
    app = create_app(replace(base, service_accounts_dir=keys_dir))
    runner = web.AppRunner(app, access_log=None)
    loop = asyncio.new_event_loop()

    async def start() -> str:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, backlog=LISTEN_BACKLOG).start()
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    thread = threading.Thread(target=loop.run_forever, name="fcm-emulator", daemon=True)
    thread.start()
    try:
        url = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
        yield RunningEmulator(url, keys_dir)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def sign_assertion(info: dict[str, str], **claims: Any) -> str:
    """The JWT-bearer assertion google-auth would sign for `info`; `claims` override."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": info["client_email"],
        "aud": GOOGLE_TOKEN_URI,
        "scope": MESSAGING_SCOPE,
        "iat": now,
        "exp": now + 3600,
    }
    payload.update(claims)
    headers = {"kid": info["private_key_id"]}
    return jwt.encode(payload, info["private_key"], algorithm="RS256", headers=headers)


async def exchange(
    session: aiohttp.ClientSession, url: str, assertion: str
) -> tuple[int, dict[str, Any]]:
    """POST the assertion to the emulator's token endpoint: (status, JSON answer)."""
    form = {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}
    async with session.post(f"{url}/token", data=form) as response:
        return response.status, await response.json()


@dataclass(frozen=True, slots=True)
class HttpSender:
    """`messages:send` as plain HTTP with a bearer token, for what an SDK refuses to send."""

    session: aiohttp.ClientSession
    url: str
    project_id: str
    bearer: str

    @classmethod
    async def for_account(
        cls, session: aiohttp.ClientSession, url: str, info: dict[str, str]
    ) -> HttpSender:
        status, grant = await exchange(session, url, sign_assertion(info))
        if status != 200:
            raise RuntimeError(f"token exchange failed: {grant}")
        return cls(session, url, info["project_id"], str(grant["access_token"]))

    async def send(
        self,
        message: dict[str, Any],
        *,
        project_id: str | None = None,
        validate_only: bool = False,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, JSON answer, headers)."""
        body: dict[str, Any] = {"message": message}
        if validate_only:
            body["validate_only"] = True
        url = f"{self.url}/v1/projects/{project_id or self.project_id}/messages:send"
        headers = {"Authorization": f"Bearer {self.bearer}"}
        async with self.session.post(url, json=body, headers=headers) as response:
            return response.status, await response.json(), dict(response.headers)
