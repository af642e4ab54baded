"""What the security tests probe with: raw bytes on a socket, the token-api as a real process
with its output in a file, the dispatcher in this process, log capture, and the check that a
log holds no push target in full."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import aiohttp
from redis.asyncio import Redis
from token_api.support import AUDIENCE, ISSUER, SECRET, SERVICE_KEY, Client, until

from herald.logs import JsonFormatter
from herald_dispatcher.service import Dispatcher
from herald_dispatcher.settings import DispatcherSettings

# Masked forms show six characters at each end; any longer run of a target is a leak.
LEAK_WINDOW = 13
EMULATOR_THREAD = "fcm-emulator"


def leaks(log: str, targets: Iterable[str]) -> list[str]:
    """The targets of which ``log`` holds the whole or any run of ``LEAK_WINDOW`` characters."""
    found = []
    for target in targets:
        windows = (target[i : i + LEAK_WINDOW] for i in range(len(target) - LEAK_WINDOW + 1))
        if target in log or any(w in log for w in windows):
            found.append(target)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def token_api_process(
    database_url: str, bootstrap: str, namespace: str, log_path: Path
) -> AsyncIterator[str]:
    """``herald-token-api serve`` at debug level, stdout and stderr into ``log_path``; yields its
    base URL once ready, and checks that it exits 0 on SIGTERM."""
    port = free_port()
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": database_url,
        "HERALD_KAFKA_BOOTSTRAP": bootstrap,
        "HERALD_TOPIC_NAMESPACE": namespace,
        "HERALD_JWT_HS256_SECRET": SECRET,
        "HERALD_JWT_ISSUER": ISSUER,
        "HERALD_JWT_AUDIENCE": AUDIENCE,
        "HERALD_SERVICE_API_KEYS": SERVICE_KEY,
        "HERALD_HTTP_PORT": str(port),
        "HERALD_LOG_LEVEL": "DEBUG",
        "HERALD_MIGRATE_ON_START": "false",
        "HERALD_RELAY_POLL_INTERVAL_S": "0.5",
        "HERALD_SHUTDOWN_GRACE_S": "5",
    }
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "herald_token_api", "serve", env=env, stdout=out, stderr=out
        )
    try:
        async with aiohttp.ClientSession() as session:

            async def ready() -> bool:
                try:
                    async with session.get(f"{base}/readyz") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await until(ready, timeout_s=30)
        yield base
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Every log record of this process at debug level, formatted as the services format them
    (extra fields included), with the levels ``configure_logging`` sets."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    # The FCM emulator runs in this process too, in a thread of its own; it is not under test.
    handler.addFilter(lambda record: record.threadName != EMULATOR_THREAD)
    root, kafka = logging.getLogger(), logging.getLogger("aiokafka")
    levels = root.level, kafka.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    kafka.setLevel(logging.WARNING)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        kafka.setLevel(levels[1])


async def raw_request(client: Client, head: bytes) -> tuple[int, bytes, bytes]:
    """Send ``head`` as it is over a socket: (status, headers, body)."""
    port = client.server.port
    assert port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    headers, _, body = answer.partition(b"\r\n\r\n")
    return int(headers.split(b" ", 2)[1]), headers, body


def request_bytes(method: bytes, path: bytes, *headers: bytes) -> bytes:
    lines = [method + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    return b"\r\n".join([*lines, *headers, b"Content-Length: 0", b"", b""])


# Not a database the existing suites own (1-4): the dispatcher's keys are all under the topic
# namespace, and only those are deleted afterwards.
DISPATCHER_REDIS_URL = "redis://127.0.0.1:63790/6"


@asynccontextmanager
async def dispatcher_running(
    bootstrap: str, namespace: str, fcm_url: str, credentials: dict[str, Path]
) -> AsyncIterator[None]:
    """A dispatcher in this process on ``namespace``, stopped and its Redis keys deleted after."""
    settings = DispatcherSettings(
        kafka_bootstrap=bootstrap,
        topic_namespace=namespace,
        redis_url=DISPATCHER_REDIS_URL,  # type: ignore[arg-type]
        health_port=free_port(),
        fcm_base_url=fcm_url,
        fcm_credentials=credentials,
        rate_ramp_up_s=0,
        projection_check_s=0.2,
        kafka_session_timeout_ms=6000,
        shutdown_grace_s=8,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(Dispatcher(settings).run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        redis = Redis.from_url(DISPATCHER_REDIS_URL)
        async for key in redis.scan_iter(match=f"{namespace}*"):
            await redis.delete(key)
        await redis.aclose()
