from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import aiohttp
import firebase_admin  # type: ignore[import-untyped,unused-ignore]
import pytest
from firebase_admin import credentials, messaging

from fcm_emulator import service_account
from fcm_emulator.client import EmulatorClient
from fcm_emulator.testing import HttpSender, RunningEmulator, run_in_thread

PROJECT = "herald-test"


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with run_in_thread(tmp_path_factory.mktemp("keys")) as running:
        yield running


@pytest.fixture
async def fcm(emulator: RunningEmulator) -> AsyncIterator[EmulatorClient]:
    """The control-API client, on a freshly reset emulator."""
    async with EmulatorClient(emulator.url) as client:
        await client.reset()
        yield client


@pytest.fixture(scope="session")
def project_account(emulator: RunningEmulator) -> dict[str, str]:
    return emulator.service_account(PROJECT)


@pytest.fixture
async def raw(
    emulator: RunningEmulator, project_account: dict[str, str], fcm: EmulatorClient
) -> AsyncIterator[HttpSender]:
    """Plain HTTP sends with a bearer for the project, on a freshly reset emulator."""
    async with aiohttp.ClientSession() as session:
        yield await HttpSender.for_account(session, emulator.url, project_account)


@pytest.fixture(scope="session")
async def firebase_app(
    emulator: RunningEmulator,
    project_account: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[firebase_admin.App]:
    """firebase-admin with the generated service-account file. firebase-admin 7.7 has no
    setting for the FCM endpoint, so its messaging service's URL is replaced."""
    path = tmp_path_factory.mktemp("firebase") / "service-account.json"
    service_account.write(path, project_account)
    app = firebase_admin.initialize_app(credentials.Certificate(str(path)), name="fcm-emulator")
    service = messaging._get_messaging_service(app)
    service._fcm_url = emulator.send_url(PROJECT)
    yield app
    await service._async_client.aclose()
    await asyncio.to_thread(firebase_admin.delete_app, app)
