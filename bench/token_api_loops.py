"""The two timed loops of the token-api benchmark: new registrations through its HTTP API (a new
user with a new target each, as browsers signing up would), and the raw asyncpg upsert of the
same rows, the floor any service writing that table can reach.

The HTTP side is a lean load generator: the callers of a real deployment run elsewhere, so here
they should take as little of the shared CPU as possible. Every request is encoded before the
clock starts, sent as bytes on one of ``concurrency`` keep-alive connections, and its response
read whole, parsing only the status line and Content-Length; a request's latency runs from its
send to the last byte of its response."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt

POOL_SIZE = 16
RAW_UPSERT = (
    "INSERT INTO push_tokens (target, target_id, kind, user_id, platform)"
    " VALUES ($1, $2, 'token', $3, 'web')"
    " ON CONFLICT (target) DO UPDATE SET last_seen_at = now()"
)
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)
HEAD_END = b"\r\n\r\n"


@dataclass(frozen=True)
class Timed:
    count: int
    elapsed_s: float
    latencies_s: list[float]


def target(run: str, n: int) -> str:
    return f"cAbCdEfGhIjKlMnOpQrStU:APA91b{run}{n:010d}{'b' * 110}"


async def timed(count: int, concurrency: int, call: Callable[[int], Awaitable[None]]) -> Timed:
    latencies: list[float] = []
    queue = iter(range(count))

    async def worker() -> None:
        for n in queue:
            started = time.perf_counter()
            await call(n)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Timed(count, time.perf_counter() - started, latencies)


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._reply: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        head_end = self._buffer.find(HEAD_END)
        if head_end < 0 or self._reply is None:
            return
        found = CONTENT_LENGTH.search(self._buffer, 0, head_end + 2)
        end = head_end + 4 + (int(found[1]) if found else 0)
        if len(self._buffer) < end:
            return
        status, body = int(self._buffer[9:12]), bytes(self._buffer[head_end + 4 : end])
        del self._buffer[:end]
        self._reply.set_result((status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._reply is not None and not self._reply.done():
            self._reply.set_exception(exc or ConnectionError("the server closed the connection"))

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send a whole request; the response's status and body."""
        assert self._transport is not None
        self._reply = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        try:
            return await self._reply
        finally:
            self._reply = None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _put_request(host: str, bearer: str, body: dict[str, str]) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"PUT /v1/targets HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {bearer}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


async def api_loop(
    base_urls: list[str], count: int, concurrency: int, auth: tuple[str, str, str]
) -> Timed:
    """``count`` PUT /v1/targets, each for a new user, ``concurrency`` at a time; the
    connections are spread over ``base_urls`` (replicas of the service) in turn."""
    secret, issuer, audience = auth
    run = uuid.uuid4().hex[:8]
    exp = int(time.time()) + 3600
    urls = [urlsplit(base_url) for base_url in base_urls]
    addresses = [(url.hostname or "127.0.0.1", url.port or 80) for url in urls]
    requests = [
        _put_request(
            urls[0].netloc,
            jwt.encode(
                {"sub": f"user-{run}-{n}", "iss": issuer, "aud": audience, "exp": exp},
                secret,
                algorithm="HS256",
            ),
            {"token": target(run, n), "device_label": "bench"},
        )
        for n in range(count)
    ]
    loop = asyncio.get_running_loop()
    connections: list[_Connection] = []
    try:
        for n in range(concurrency):
            host, port = addresses[n % len(addresses)]
            _, connection = await loop.create_connection(_Connection, host, port)
            connections.append(connection)
        free = list(connections)

        async def register(n: int) -> None:
            connection = free.pop()
            try:
                status, body = await connection.exchange(requests[n])
            finally:
                free.append(connection)
            if status != 201:
                raise RuntimeError(f"{status}: {body.decode(errors='replace')}")

        return await timed(count, concurrency, register)
    finally:
        for connection in connections:
            connection.close()


async def raw_loop(pool: Any, count: int, concurrency: int) -> Timed:
    """``count`` upserts of new rows through ``pool`` (an asyncpg pool), ``concurrency`` at a
    time."""
    run = uuid.uuid4().hex[:8]

    async def upsert(n: int) -> None:
        await pool.execute(RAW_UPSERT, target(run, n), uuid.uuid4().hex, f"raw-{run}-{n}")

    return await timed(count, concurrency, upsert)
