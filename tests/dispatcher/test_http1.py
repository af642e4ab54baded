"""The dispatcher's keep-alive HTTP/1.1 pool against a real HTTP server on loopback: answers
with a length or chunked, Retry-After, connections the server closes, timeouts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from dispatcher.support import free_port

from herald_dispatcher.http1 import Http1Pool, HttpError, TooLate

HEAD = b"POST /send HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"


class Server:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.peers: set[object] = set()
        self.url = ""

    async def send(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.bodies.append(body)
        self.peers.add(request.transport)
        mode = request.headers.get("X-Mode", "")
        if mode == "slow":
            await asyncio.sleep(5)
        if mode == "chunked":
            response = web.StreamResponse(status=503, headers={"Retry-After": "7"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write(b'{"error": ')
            await response.write(b'"busy"}')
            await response.write_eof()
            return response
        if mode == "close":
            return web.Response(body=body, headers={"Connection": "close"})
        return web.Response(body=b'{"echo": ' + body + b"}")


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    found = Server()
    app = web.Application()
    app.router.add_post("/send", found.send)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    found.url = f"http://127.0.0.1:{port}"
    yield found
    await runner.cleanup()


async def test_posts_reuse_one_keep_alive_connection(server: Server) -> None:
    pool = Http1Pool(server.url, max_connections=4, timeout_s=5)
    try:
        answers = [await pool.post(HEAD, b'{"n": %d}' % n) for n in range(5)]
    finally:
        await pool.close()

    assert [a.status for a in answers] == [200] * 5
    assert answers[3].body == b'{"echo": {"n": 3}}'
    assert server.bodies == [b'{"n": %d}' % n for n in range(5)]
    assert len(server.peers) == 1


async def test_concurrent_posts_each_get_their_own_answer(server: Server) -> None:
    pool = Http1Pool(server.url, max_connections=8, timeout_s=5)
    try:
        answers = await asyncio.gather(*(pool.post(HEAD, b"%d" % n) for n in range(8)))
    finally:
        await pool.close()

    assert [a.body for a in answers] == [b'{"echo": %d}' % n for n in range(8)]


async def test_a_chunked_error_answer_keeps_its_retry_after(server: Server) -> None:
    pool = Http1Pool(server.url, max_connections=1, timeout_s=5)
    try:
        answer = await pool.post(HEAD + b"X-Mode: chunked\r\n", b"{}")
        after = await pool.post(HEAD, b"1")
    finally:
        await pool.close()

    assert (answer.status, answer.body, answer.retry_after) == (503, b'{"error": "busy"}', "7")
    assert after.body == b'{"echo": 1}'


async def test_a_connection_the_server_closes_is_replaced(server: Server) -> None:
    pool = Http1Pool(server.url, max_connections=1, timeout_s=5)
    try:
        first = await pool.post(HEAD + b"X-Mode: close\r\n", b"1")
        second = await pool.post(HEAD, b"2")
    finally:
        await pool.close()

    assert (first.status, second.status) == (200, 200)
    assert len(server.peers) == 2


async def test_a_post_whose_send_by_time_passes_while_connecting_is_not_written(
    server: Server,
) -> None:
    pool = Http1Pool(server.url, max_connections=1, timeout_s=5)
    loop = asyncio.get_running_loop()
    try:
        with pytest.raises(TooLate):
            await pool.post(HEAD, b"late", send_by=loop.time())
        answer = await pool.post(HEAD, b"in time", send_by=loop.time() + 5)
    finally:
        await pool.close()

    assert answer.body == b'{"echo": in time}'
    assert server.bodies == [b"in time"]
    # The connection opened for the late request carried the next one.
    assert len(server.peers) == 1


async def test_no_answer_within_the_timeout_is_an_error(server: Server) -> None:
    pool = Http1Pool(server.url, max_connections=1, timeout_s=1.0)
    started = time.monotonic()
    try:
        with pytest.raises(HttpError, match="timeout"):
            await pool.post(HEAD + b"X-Mode: slow\r\n", b"1")
        elapsed_s = time.monotonic() - started
        # The pool is usable again afterwards (the timed-out connection was dropped).
        answer = await pool.post(HEAD, b"2")
    finally:
        await pool.close()

    assert elapsed_s < 3
    assert answer.body == b'{"echo": 2}'


async def test_a_refused_connection_is_an_error() -> None:
    pool = Http1Pool(f"http://127.0.0.1:{free_port()}", max_connections=1, timeout_s=5)
    with pytest.raises(HttpError, match="cannot connect"):
        await pool.post(HEAD, b"1")
    await pool.close()
