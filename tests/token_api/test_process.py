"""The process: ``herald-token-api migrate``, and ``serve`` stopping cleanly on SIGTERM; the
health and metrics routes on the API's own port."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator

import aiohttp
import asyncpg  # type: ignore[import-untyped,unused-ignore]
import pytest
from token_api.support import (
    AUDIENCE,
    ISSUER,
    NO_KAFKA,
    SECRET,
    Client,
    as_user,
    fcm_token,
    until,
)

from herald_token_api.db import Pool
from kit.sockets import listen_queue, somaxconn

COMMAND = [sys.executable, "-m", "herald_token_api"]


@pytest.fixture
async def empty_database(admin_url: str) -> AsyncIterator[str]:
    name = f"herald_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield through_database(admin_url, name)
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


def through_database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + f"/{name}"


def environment(database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "HERALD_DATABASE_URL": database_url,
        "HERALD_KAFKA_BOOTSTRAP": NO_KAFKA,
        "HERALD_JWT_HS256_SECRET": SECRET,
        "HERALD_JWT_ISSUER": ISSUER,
        "HERALD_JWT_AUDIENCE": AUDIENCE,
        "HERALD_CONNECT_RETRY_DELAY_S": "0.2",
        **extra,
    }


async def run(*args: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *COMMAND, *args, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


async def test_migrate_creates_the_schema_once(empty_database: str) -> None:
    code, log = await run("migrate", env=environment(empty_database))
    assert code == 0, log
    assert "applied migration 0001_push_tokens" in log
    assert "applied migration 0002_outbox_write_plpgsql" in log
    assert "applied migration 0003_register_fewer_statements" in log
    assert "applied migration 0004_register_batch" in log
    code, log = await run("migrate", env=environment(empty_database))
    assert code == 0, log
    assert "none pending" in log

    connection = await asyncpg.connect(empty_database)
    try:
        tables = {r["tablename"] for r in await connection.fetch("SELECT tablename FROM pg_tables")}
        versions = await connection.fetch("SELECT version FROM token_api_migrations")
    finally:
        await connection.close()
    assert {"push_tokens", "token_outbox", "token_api_migrations"} <= tables
    assert sorted(r["version"] for r in versions) == [1, 2, 3, 4]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_serve_migrates_at_start_up_and_exits_0_on_sigterm(empty_database: str) -> None:
    port = free_port()
    env = environment(empty_database, HERALD_HTTP_PORT=str(port), HERALD_SHUTDOWN_GRACE_S="5")
    process = await asyncio.create_subprocess_exec(*COMMAND, "serve", env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:

            async def ready() -> bool:
                try:
                    async with session.get(f"{base}/readyz") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await until(ready, timeout_s=30)
            async with session.put(
                f"{base}/v1/targets", json={"token": fcm_token(1)}, headers=as_user("alice")
            ) as response:
                assert response.status == 201
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
async def test_serve_queues_a_burst_of_new_connections(empty_database: str) -> None:
    """Clients reconnecting at once (after a deploy, behind a load balancer) open hundreds of
    connections. Beyond the listening socket's queue the kernel drops their SYNs and each such
    connection waits a second or more; aiohttp's default queue is 128."""
    if somaxconn() <= 128:
        pytest.skip(f"the kernel caps every listening queue at {somaxconn()}")
    port = free_port()
    env = environment(empty_database, HERALD_HTTP_PORT=str(port))
    process = await asyncio.create_subprocess_exec(*COMMAND, "serve", env=env)
    try:
        deadline = time.monotonic() + 30
        while (queue := listen_queue(port)) is None:
            assert process.returncode is None, "the token-api exited"
            assert time.monotonic() < deadline, "the token-api is not listening after 30 s"
            await asyncio.sleep(0.05)
        assert queue == min(4096, somaxconn())
    finally:
        process.terminate()
        await process.wait()


async def test_health_and_metrics_are_served_on_the_api_port(
    offline_api: Client, pool: Pool
) -> None:
    assert (await offline_api.get("/healthz")).status == 200
    ready = await offline_api.get("/readyz")
    assert (await ready.json())["checks"] == {"postgres": "ok"}
    await offline_api.put("/v1/targets", json={"token": fcm_token(1)}, headers=as_user("alice"))

    async def reported() -> bool:
        text = await (await offline_api.get("/metrics")).text()
        return "herald_token_api_outbox_backlog 1.0" in text

    await until(reported, timeout_s=10)
    text = await (await offline_api.get("/metrics")).text()
    assert 'herald_token_api_requests_total{method="PUT",route="/v1/targets",status="201"}' in text
    assert 'herald_token_api_request_duration_seconds_bucket{le="0.005",method="PUT"' in text
    assert "herald_token_api_relay_lag_seconds" in text
