"""The whole of Herald as ``make run`` starts it (``herald_dev.stack.Stack``: the FCM emulator,
the token-api, the scheduler and the dispatcher as child processes), on free ports with a topic
namespace, a PostgreSQL database and Redis databases of its own, plus users registered
through the token-api, as browsers would."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

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
from herald_dev.stack import Ports, Stack, StackConfig, drop_database


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
        emulator_log_requests=False,
    ).with_database(database)
    try:
        async with Stack(config, Progress(io.StringIO())) as stack:
            yield stack
    finally:
        await drop_database(config.database_url)
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
