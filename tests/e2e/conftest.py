"""The whole of Herald for the end-to-end tests: one stack per session (the FCM emulator, the
token-api, the scheduler and the dispatcher as processes, as ``herald-run`` starts them) on
free ports, with its own topic namespace, PostgreSQL database and Redis databases, plus the
demo page's server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from e2e.support import DISPATCHER_REDIS_DB, SCHEDULER_REDIS_DB
from redis.asyncio import Redis

from fcm_emulator.client import EmulatorClient
from herald_dev.api import TokenApi
from herald_dev.demo_server import DemoConfig, serving
from herald_dev.layout import StateDirs, find_root
from herald_dev.stack import DEFAULT_REDIS_URL, HOST, Ports, Stack, StackConfig, drop_database
from kit.kafka import create_namespace, delete_namespace


async def flush_redis(*databases: int) -> None:
    for db in databases:
        client = Redis.from_url(f"{DEFAULT_REDIS_URL}/{db}")
        try:
            await client.flushdb()
        finally:
            await client.aclose()


@pytest.fixture(scope="session")
async def stack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    namespace = await create_namespace(bootstrap)
    database = f"herald_e2e_{uuid.uuid4().hex[:10]}"
    await flush_redis(SCHEDULER_REDIS_DB, DISPATCHER_REDIS_DB)
    config = StackConfig(
        state=StateDirs(tmp_path_factory.mktemp("e2e-state")),
        ports=Ports.free(),
        namespace=namespace,
        kafka_bootstrap=bootstrap,
        scheduler_redis_db=SCHEDULER_REDIS_DB,
        dispatcher_redis_db=DISPATCHER_REDIS_DB,
    ).with_database(database)
    try:
        async with Stack(config) as running:
            yield running
    finally:
        await drop_database(config.database_url)
        await delete_namespace(bootstrap, namespace)
        await flush_redis(SCHEDULER_REDIS_DB, DISPATCHER_REDIS_DB)


@pytest.fixture(scope="session")
async def demo_url(stack: Stack) -> AsyncIterator[str]:
    config = stack.config
    demo = DemoConfig(
        web_dir=find_root(Path(__file__).parent) / "web",
        api_url=config.api_url,
        emulator_url=config.emulator_url,
        project_id=config.project_id,
        kafka_bootstrap=config.kafka_bootstrap,
        namespace=config.namespace,
        credentials=stack.credentials,
    )
    async with serving(demo, HOST, config.ports.demo):
        yield config.demo_url


@pytest.fixture
async def emulator(stack: Stack) -> AsyncIterator[EmulatorClient]:
    async with EmulatorClient(stack.config.emulator_url) as client:
        yield client


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[TokenApi]:
    async with TokenApi(stack.config.api_url, service_key=stack.credentials.service_key) as client:
        yield client
