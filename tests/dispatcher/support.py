"""Helpers of the dispatcher's tests: targets, token sets, notifications, what came out."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, Self

import aiohttp
from aiohttp import web

from fcm_emulator.client import EmulatorClient
from fcm_emulator.faults import FaultConfig
from fcm_emulator.records import ReceivedMessage
from fcm_emulator.targets import IssuedTarget, TargetKind
from fcm_emulator.testing import exchange, sign_assertion
from herald import topics
from herald.producer import Producer
from herald.v1 import common_pb2, deliveries_pb2, notifications_pb2, tokens_pb2
from kit.kafka import read_topic

# The dispatcher's tests own Redis DB 2; other suites use other databases at the same time.
REDIS_URL = "redis://127.0.0.1:63790/2"
PROJECT = "herald-dispatch-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def seed_failing_first(failures: int, rate: float = 0.5) -> int:
    """A fault seed whose first ``failures`` draws fail at ``rate`` and the next one does not
    (the emulator draws once per send from ``random.Random(seed)``)."""
    for seed in range(10_000):
        draws = random.Random(seed)
        if all(draws.random() < rate for _ in range(failures)) and draws.random() >= rate:
            return seed
    raise AssertionError("no such seed")


async def wait_ready(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the dispatcher did not become ready")
            await asyncio.sleep(0.1)


async def until(
    predicate: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 20.0
) -> None:
    """Wait until the async ``predicate()`` holds; fail the test when it never does."""
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s}s"
        await asyncio.sleep(0.05)


async def issue(fcm: EmulatorClient, kind: TargetKind = TargetKind.TOKEN) -> IssuedTarget:
    return await fcm.issue_target(PROJECT, kind)


def entry(
    issued: IssuedTarget, platform: common_pb2.Platform = common_pb2.PLATFORM_WEB
) -> tokens_pb2.TokenEntry:
    kind = (
        common_pb2.TARGET_KIND_FID
        if issued.kind is TargetKind.FID
        else common_pb2.TARGET_KIND_TOKEN
    )
    return tokens_pb2.TokenEntry(
        target=common_pb2.Target(kind=kind, value=issued.target, project_id=PROJECT),
        platform=platform,
    )


async def publish_tokens(
    producer: Producer, user_id: str, entries: list[tokens_pb2.TokenEntry], version: int = 1
) -> None:
    token_set = tokens_pb2.TokenSet(
        event_id=f"ts-{user_id}-{version}", user_id=user_id, tokens=entries, version=version
    )
    await producer.send_and_wait(topics.TOKENS, user_id, token_set if entries else None)


async def slow_browser(
    fcm: EmulatorClient, producer: Producer, user_id: str, latency_ms: float
) -> IssuedTarget:
    """The only browser of ``user_id``, its token set published; FCM answers after
    ``latency_ms``."""
    browser = await issue(fcm)
    await publish_tokens(producer, user_id, [entry(browser)])
    await fcm.set_faults(FaultConfig(latency_ms=latency_ms))
    return browser


def due(notification_id: str, user_id: str, **fields: Any) -> notifications_pb2.NotificationDue:
    message = notifications_pb2.NotificationDue(
        event_id=f"ev-{notification_id}",
        notification_id=notification_id,
        user_id=user_id,
        content=common_pb2.NotificationContent(
            title="Tea is ready",
            body="Your timer ended.",
            icon="https://herald.example/icon.png",
            click_link="https://herald.example/timers/tea",
            data={"timer": "tea"},
        ),
        **fields,
    )
    if not message.HasField("occurrence_at"):
        message.occurrence_at.FromMilliseconds(int(time.time() * 1000))
    return message


async def publish_due(producer: Producer, message: notifications_pb2.NotificationDue) -> None:
    await producer.send_and_wait(topics.NOTIFICATIONS_DUE, message.user_id, message)


async def reports(
    bootstrap: str, namespace: str, count: int, timeout_s: float = 20.0
) -> list[deliveries_pb2.DeliveryReport]:
    """The first ``count`` delivery reports (fewer on timeout)."""
    found = []
    for raw in await read_topic(bootstrap, namespace + topics.DELIVERIES.name, count, timeout_s):
        report = deliveries_pb2.DeliveryReport()
        report.ParseFromString(raw.value)
        found.append(report)
    return found


async def accepted(fcm: EmulatorClient, target: str | None = None) -> list[ReceivedMessage]:
    return [m for m in await fcm.messages(target=target) if m.status == 200]


class LocalEndpoint:
    """A small aiohttp app on a free loopback port, with a client session for passing requests
    on; a context manager. Subclasses add their routes to ``app``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = web.Application()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "not entered"
        return self._session

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession()
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self.session.close()


class FcmFront(LocalEndpoint):
    """An FCM endpoint in front of the emulator, for answers the emulator cannot be told to
    give. It refuses the first ``refusals`` sends with 429 QUOTA_EXCEEDED and ``Retry-After``
    (the emulator leaves Retry-After off the QUOTA_EXCEEDED answers it injects), passes the
    others on, and with ``answer_first`` set passes every send on but holds the answers after
    the first ``answer_first`` ones: FCM got them, the sender never hears back. With
    ``forward_held`` False the held sends are not passed on either: the requests never reached
    FCM, as when the sender dies before they leave. ``answers`` holds (time, status) of each
    answer given."""

    def __init__(
        self,
        upstream: str,
        *,
        refusals: int = 0,
        retry_after_s: int = 2,
        answer_first: int | None = None,
        forward_held: bool = True,
    ) -> None:
        super().__init__()
        self.upstream = upstream
        self.refusals = refusals
        self.retry_after_s = retry_after_s
        self.answer_first = answer_first
        self.forward_held = forward_held
        self.answers: list[tuple[float, int]] = []
        self.held = 0
        # Sends past the refusals, in order of arrival.
        self.passed = 0
        self._release = asyncio.Event()
        self.app.router.add_post("/v1/projects/{project}/messages:send", self._send)

    async def __aexit__(self, *exc: object) -> None:
        self._release.set()
        await super().__aexit__(*exc)

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.read()
        if len(self.answers) < self.refusals:
            self.answers.append((time.time(), 429))
            error = {
                "code": 429,
                "message": "Quota exceeded.",
                "status": "RESOURCE_EXHAUSTED",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                        "errorCode": "QUOTA_EXCEEDED",
                    }
                ],
            }
            headers = {"Retry-After": str(self.retry_after_s)}
            return web.json_response({"error": error}, status=429, headers=headers)
        forwarded = {
            "Authorization": request.headers["Authorization"],
            "Content-Type": "application/json",
        }
        self.passed += 1
        holding = self.answer_first is not None and self.passed > self.answer_first
        if holding and not self.forward_held:
            self.held += 1
            await self._release.wait()
            return web.Response(status=503)
        url = self.upstream + request.path
        async with self.session.post(url, data=body, headers=forwarded) as answer:
            status, answer_body = answer.status, await answer.read()
        if holding:
            self.held += 1
            await self._release.wait()
        self.answers.append((time.time(), status))
        return web.Response(body=answer_body, status=status, content_type="application/json")


class SlowTokenEndpoint(LocalEndpoint):
    """An OAuth token endpoint that answers after ``delay_s``, with a token of the emulator's
    (got with ``info``'s key): point a service account's ``token_uri`` at ``token_uri``."""

    def __init__(self, emulator_url: str, info: dict[str, str]) -> None:
        super().__init__()
        self.emulator_url = emulator_url
        self.info = info
        self.delay_s = 0.0
        self.token_uri = f"{self.url}/token"
        self.app.router.add_post("/token", self._token)

    async def _token(self, request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(self.delay_s)
        status, grant = await exchange(self.session, self.emulator_url, sign_assertion(self.info))
        return web.json_response(grant, status=status)
