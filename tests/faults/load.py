"""The load a scenario drives: users with targets registered through the token-api, reminders
published to ``herald.reminders.v1`` (as a product service does), and send-now requests to the
token-api, each retried the way a careful product service would (same id, bounded time)."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
from faults.ledger import NID_KEY, Request

from herald import topics
from herald.producer import Producer
from herald.v1 import common_pb2, reminders_pb2
from herald_dev.api import SERVICE_KEY_HEADER, ApiError, TokenApi
from herald_dev.credentials import DevCredentials

T = TypeVar("T")
CONCURRENCY = 32
RETRY_PAUSE_S = 0.25
# How long a product service keeps retrying one request before it gives up.
RETRY_BUDGET_S = 60.0
SEND_NOW_TTL_S = 3600


def now_ms() -> int:
    return int(time.time() * 1000)


async def retrying(call: Callable[[], Awaitable[T]], budget_s: float = RETRY_BUDGET_S) -> T | None:
    """``call()`` until it succeeds; None once ``budget_s`` passed. Retries what a client
    should retry: 5xx answers, refused or dropped connections, timeouts."""
    deadline = time.monotonic() + budget_s
    while True:
        try:
            return await call()
        except ApiError as exc:
            if exc.status < 500:
                raise
        except (aiohttp.ClientError, OSError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(RETRY_PAUSE_S)


async def bounded(calls: Iterable[Awaitable[T]], limit: int = CONCURRENCY) -> list[T]:
    gate = asyncio.Semaphore(limit)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    return await asyncio.gather(*(one(c) for c in calls))


def new_target() -> str:
    """A well-formed FCM registration token (the emulator accepts those it did not issue)."""
    return f"fault-{secrets.token_urlsafe(48)}"


@dataclass(frozen=True)
class Population:
    """Users and their targets, as the token-api acknowledged them."""

    targets: dict[str, frozenset[str]]

    @classmethod
    def fresh(cls, prefix: str, users: int, targets_per_user: int) -> Population:
        return cls(
            {
                f"{prefix}-{i}": frozenset(new_target() for _ in range(targets_per_user))
                for i in range(users)
            }
        )

    @property
    def users(self) -> list[str]:
        return sorted(self.targets)

    @property
    def size(self) -> int:
        return sum(len(t) for t in self.targets.values())


async def register(
    api: TokenApi,
    credentials: DevCredentials,
    population: Population,
    project_id: str,
    *,
    per_s: float | None = None,
    budget_s: float = RETRY_BUDGET_S,
) -> Population:
    """Register every target (PUT is idempotent, so retries are safe), ``per_s`` a second
    (else as fast as CONCURRENCY allows); returns the part the token-api acknowledged."""
    started = time.monotonic()

    async def one(i: int, user: str, target: str) -> tuple[str, str] | None:
        if per_s is not None:
            await asyncio.sleep(max(0.0, started + i / per_s - time.monotonic()))
        jwt = credentials.user_jwt(user)
        done = await retrying(lambda: api.register(jwt, target, project_id=project_id), budget_s)
        return None if done is None else (user, target)

    pairs = [(user, target) for user, mine in population.targets.items() for target in mine]
    limit = len(pairs) if per_s is not None else CONCURRENCY
    results = await bounded((one(i, u, t) for i, (u, t) in enumerate(pairs)), max(1, limit))
    acknowledged: dict[str, set[str]] = {}
    for found in results:
        if found is not None:
            acknowledged.setdefault(found[0], set()).add(found[1])
    return Population({u: frozenset(t) for u, t in acknowledged.items()})


def reminder(
    nid: str, user: str, fire_at_ms: int, expires_at_ms: int
) -> reminders_pb2.ReminderScheduled:
    event = reminders_pb2.ReminderScheduled(
        event_id=str(uuid.uuid4()),
        reminder_id=nid,
        user_id=user,
        content=common_pb2.NotificationContent(title="Fault suite", data={NID_KEY: nid}),
        urgency=common_pb2.URGENCY_HIGH,
    )
    event.occurred_at.FromMilliseconds(now_ms())
    event.fire_at.FromMilliseconds(fire_at_ms)
    event.expires_at.FromMilliseconds(expires_at_ms)
    return event


async def publish_reminders(
    producer: Producer, population: Population, plan: list[tuple[str, str, int, int]]
) -> list[Request]:
    """Publish (nid, user, fire_at_ms, expires_at_ms) reminders and wait for Kafka's acks."""
    acks = [
        await producer.send(topics.REMINDERS, nid, reminder(nid, user, fire_ms, expires_ms))
        for nid, user, fire_ms, expires_ms in plan
    ]
    await asyncio.gather(*acks)
    return [
        Request(nid, "reminder", user, fire_ms, expires_ms, population.targets[user])
        for nid, user, fire_ms, expires_ms in plan
    ]


class SendNow:
    """POST /v1/notifications with the load's own notification id, so a retry after a lost
    answer cannot create a second notification."""

    def __init__(self, api_url: str, service_key: str) -> None:
        self._url = api_url.rstrip("/") + "/v1/notifications"
        self._headers = {SERVICE_KEY_HEADER: service_key}
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def close(self) -> None:
        await self._session.close()

    async def _post(self, nid: str, user: str) -> bool:
        body = {
            "notification_id": nid,
            "user_id": user,
            "content": {"title": "Fault suite", "data": {NID_KEY: nid}},
            "ttl_s": SEND_NOW_TTL_S,
        }
        async with self._session.post(self._url, json=body, headers=self._headers) as response:
            text = await response.text()
            if response.status >= 300:
                raise ApiError("POST", "/v1/notifications", response.status, text)
            return True

    async def send(self, nid: str, user: str, targets: frozenset[str]) -> Request:
        asked_ms = now_ms()
        accepted = await retrying(lambda: self._post(nid, user)) is not None
        expires_ms = asked_ms + SEND_NOW_TTL_S * 1000
        return Request(nid, "send-now", user, asked_ms, expires_ms, targets, accepted)

    async def steady(
        self, run: str, population: Population, per_s: float, duration_s: float
    ) -> list[Request]:
        """``per_s`` requests a second for ``duration_s``, users in turn; each request runs
        on its own (retries of one do not hold up the next)."""
        users = population.users
        count = int(per_s * duration_s)
        started = time.monotonic()
        tasks: list[asyncio.Task[Request]] = []
        for i in range(count):
            await asyncio.sleep(max(0.0, started + i / per_s - time.monotonic()))
            user = users[i % len(users)]
            nid = f"{run}-s{i}"
            tasks.append(asyncio.create_task(self.send(nid, user, population.targets[user])))
        return list(await asyncio.gather(*tasks))
