"""The whole of Herald as ``make run`` starts it (``herald_dev.stack.Stack``: the FCM emulator,
the token-api, the scheduler and the dispatcher as child processes), on free ports with a topic
namespace, a PostgreSQL database and Redis databases of its own, plus users registered
through the token-api, as browsers would."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg  # type: ignore[import-untyped,unused-ignore]
from redis.asyncio import Redis

from bench.common import (
    BOOTSTRAP,
    E2E_DISPATCHER_DB,
    E2E_SCHEDULER_DB,
    REDIS_BASE_URL,
    delete_keys,
    delete_topics,
    fresh_namespace,
)
from bench.token_api_loops import target
from herald_dev.api import TokenApi
from herald_dev.layout import StateDirs
from herald_dev.progress import Progress
from herald_dev.stack import Ports, Stack, StackConfig


@asynccontextmanager
async def running_stack(folder: Path) -> AsyncIterator[Stack]:
    namespace = fresh_namespace("bench-e2e")
    database = f"herald_bench_e2e_{uuid.uuid4().hex[:8]}"
    config = StackConfig(
        state=StateDirs(folder),
        ports=Ports.free(),
        namespace=namespace,
        kafka_bootstrap=BOOTSTRAP,
        redis_url=REDIS_BASE_URL,
        scheduler_redis_db=E2E_SCHEDULER_DB,
        dispatcher_redis_db=E2E_DISPATCHER_DB,
    ).with_database(database)
    stack = Stack(config, Progress(io.StringIO()))
    try:
        await stack.prepare()
        await stack.start()
        yield stack
    finally:
        await stack.stop()
        admin = await asyncpg.connect(config.with_database("postgres").database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await admin.close()
        await delete_topics(namespace)
        await delete_keys(config.scheduler_redis_url, f"herald:scheduler:{{{namespace}*")
        await delete_keys(config.dispatcher_redis_url, f"{namespace}*")


def user_target(n: int) -> str:
    return target("e2e", n)


async def register_users(stack: Stack, users: int, concurrency: int = 16) -> None:
    """One browser target per user, through PUT /v1/targets with each user's JWT."""
    queue = iter(range(users))
    async with TokenApi(stack.config.api_url) as api:

        async def worker() -> None:
            for n in queue:
                await api.register(stack.credentials.user_jwt(f"user-{n}"), user_target(n))

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def wait_projected(stack: Stack, users: int, timeout_s: float) -> None:
    """Until the dispatcher's Redis projection holds every user's targets (the token-api's
    outbox relay publishes them, the dispatcher projects them): before that, a due reminder
    would find no target."""
    pattern = f"{stack.config.namespace}herald:dispatcher:targets:*"
    redis = Redis.from_url(stack.config.dispatcher_redis_url)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            found = 0
            async for _ in redis.scan_iter(match=pattern, count=1000):
                found += 1
            if found >= users:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {found} of {users} users projected in {timeout_s} s")
            await asyncio.sleep(0.2)
    finally:
        await redis.aclose()
