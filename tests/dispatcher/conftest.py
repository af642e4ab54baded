"""Fixtures for the dispatcher's tests: Redis DB 2 flushed per test, one FCM emulator per
session (reset per test), dispatchers run in-process against the test's own topic namespace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dispatcher.support import PROJECT, REDIS_URL, free_port, wait_ready
from redis.asyncio import Redis

from fcm_emulator import service_account
from fcm_emulator.client import EmulatorClient
from fcm_emulator.testing import RunningEmulator, run_in_thread
from herald_dispatcher.service import Dispatcher
from herald_dispatcher.settings import DispatcherSettings


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with run_in_thread(tmp_path_factory.mktemp("dispatcher-keys")) as running:
        yield running


@pytest.fixture(scope="session")
def account_file(emulator: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dispatcher-account") / "service-account.json"
    service_account.write(path, emulator.service_account(PROJECT))
    return path


@pytest.fixture
async def fcm(emulator: RunningEmulator) -> AsyncIterator[EmulatorClient]:
    """The emulator's control API, on a freshly reset emulator."""
    async with EmulatorClient(emulator.url) as client:
        await client.reset()
        yield client


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def dispatcher_settings(
    bootstrap: str, namespace: str, emulator: RunningEmulator, account_file: Path
) -> DispatcherSettings:
    return DispatcherSettings(
        kafka_bootstrap=bootstrap,
        topic_namespace=namespace,
        redis_url=REDIS_URL,  # type: ignore[arg-type]
        health_port=free_port(),
        fcm_base_url=emulator.url,
        fcm_credentials={PROJECT: account_file},
        max_in_flight=32,
        retry_base_delay_s=0.2,
        rate_ramp_up_s=0,
        projection_check_s=0.2,
        kafka_session_timeout_ms=6000,
        shutdown_grace_s=8,
    )


@dataclass
class Running:
    settings: DispatcherSettings
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)


StartDispatcher = Callable[..., Awaitable[Running]]


@pytest.fixture
async def start_dispatcher(
    dispatcher_settings: DispatcherSettings, redis: Redis
) -> AsyncIterator[StartDispatcher]:
    """Start an in-process dispatcher (settings overridable by keyword) and wait until it is
    ready; every one started is stopped after the test."""
    running: list[Running] = []

    async def start(**overrides: Any) -> Running:
        settings = dispatcher_settings.model_copy(update=overrides)
        stop = asyncio.Event()
        run = Running(settings, stop, asyncio.create_task(Dispatcher(settings).run(stop)))
        running.append(run)
        ready = asyncio.create_task(wait_ready(settings.health_port))
        await asyncio.wait({ready, run.task}, return_when=asyncio.FIRST_COMPLETED)
        if run.task.done():
            ready.cancel()
            run.task.result()
            raise AssertionError("the dispatcher stopped before it was ready")
        await ready
        return run

    yield start
    for run in running:
        if not run.task.done():
            await run.finish()
