"""A small HTTP/1.1 client for many small POSTs to one origin over keep-alive connections.

aiohttp's ``ClientSession.post`` costs about 100 µs of CPU per request here (request and
response objects, header multidicts, timers, trace hooks): as much as the rest of a delivery.
FCM's ``messages:send`` needs none of that: one origin, fixed headers, a small JSON body, a
small JSON answer. This writes the request bytes on a pooled connection and parses the answer
with httptools (the C parser uvicorn uses), at a fraction of the cost. Content-Length and
chunked answers are handled by the parser; TLS by asyncio when the URL is ``https``.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from dataclasses import dataclass
from typing import cast

import httptools
from yarl import URL


class HttpError(Exception):
    """No answer: connection refused, reset or closed mid-answer, a malformed answer, or the
    timeout passed."""


class TooLate(Exception):
    """The send-by time passed before the request was written (while a connection was being
    opened): nothing was sent."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    retry_after: str | None


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        # Whether any byte of the current answer arrived (a reused connection that the server
        # closed before answering was stale: the request may be sent again).
        self.answered = False
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Answer] | None = None
        self._status = 0
        self._body: list[bytes] = []
        self._retry_after: str | None = None

    def request(self, data: bytes) -> asyncio.Future[Answer]:
        if self.transport is None or self.closed:
            raise HttpError("the connection is closed")
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        self.answered = False
        self._body = []
        self._retry_after = None
        self.transport.write(data)
        return waiter

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.answered = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"malformed answer: {exc}"))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(HttpError(f"connection closed: {exc}" if exc else "connection closed"))

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"retry-after":
            self._retry_after = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if not self._parser.should_keep_alive():
            self.closed = True
            if self.transport is not None:
                self.transport.close()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(Answer(self._status, b"".join(self._body), self._retry_after))

    def _fail(self, error: HttpError) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)


class Http1Pool:
    """POSTs to one origin over at most ``max_connections`` keep-alive connections (callers
    bound their concurrency to that: each request holds a connection until its answer)."""

    def __init__(
        self, origin: str, *, max_connections: int, timeout_s: float, idle_s: float = 30.0
    ) -> None:
        url = URL(origin)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"not an http(s) origin: {origin!r}")
        self._host = url.host
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._ssl = ssl.create_default_context() if url.scheme == "https" else None
        default_port = url.port is None or url.port == (443 if url.scheme == "https" else 80)
        self.host_header = self._host if default_port else f"{self._host}:{self._port}"
        self._max_connections = max_connections
        self._timeout_s = timeout_s
        self._idle_s = idle_s
        self._idle: deque[_Connection] = deque()
        self._open = 0

    async def close(self) -> None:
        while self._idle:
            self._idle.pop().abort()

    async def post(self, head: bytes, body: bytes, send_by: float | None = None) -> Answer:
        """Send ``head`` (request line and headers, without Content-Length and the blank line)
        and ``body``; the answer, or HttpError when none came within the timeout. With
        ``send_by`` (event loop time), raise TooLate instead of writing the request after it."""
        data = b"%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        for _ in range(2):
            connection, reused = await self._acquire(deadline)
            if send_by is not None and loop.time() >= send_by:
                self._release(connection)
                raise TooLate
            timer: asyncio.TimerHandle | None = None
            try:
                waiter = connection.request(data)
                timer = loop.call_at(deadline, _expire, connection, waiter)
                answer = await waiter
            except HttpError:
                self._open -= 1
                connection.abort()
                if reused and not connection.answered and loop.time() < deadline:
                    continue  # a stale keep-alive connection: once more on another
                raise
            except BaseException:
                self._open -= 1
                connection.abort()
                raise
            finally:
                if timer is not None:
                    timer.cancel()
            self._release(connection)
            return answer
        raise HttpError("no answer")  # pragma: no cover - the loop always returns or raises

    async def _acquire(self, deadline: float) -> tuple[_Connection, bool]:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed and now - connection.idle_since < self._idle_s:
                return connection, True
            self._open -= 1
            connection.abort()
        if self._open >= self._max_connections:
            raise HttpError("connection pool exhausted")
        self._open += 1
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    _Connection,
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._ssl else None,
                ),
                max(0.0, deadline - loop.time()),
            )
        except (OSError, TimeoutError) as exc:
            self._open -= 1
            raise HttpError(f"cannot connect to {self.host_header}: {exc!r}") from exc
        except BaseException:
            self._open -= 1
            raise
        return connection, False

    def _release(self, connection: _Connection) -> None:
        if connection.closed:
            self._open -= 1
            return
        connection.idle_since = time.monotonic()
        self._idle.append(connection)


def _expire(connection: _Connection, waiter: asyncio.Future[Answer]) -> None:
    if not waiter.done():
        waiter.set_exception(HttpError("no answer within the timeout"))
    connection.abort()
