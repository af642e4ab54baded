"""Fixtures for tests against the real Kafka, Redis and PostgreSQL that ``make infra-up`` starts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from herald.producer import Producer
from herald.settings import HeraldSettings
from kit.kafka import create_namespace, delete_namespace


@pytest.fixture(scope="session")
def settings() -> HeraldSettings:
    return HeraldSettings()


@pytest.fixture(scope="session")
def bootstrap(settings: HeraldSettings) -> str:
    return settings.kafka_bootstrap


@pytest.fixture
async def namespace(bootstrap: str) -> AsyncIterator[str]:
    """All of Herald's topics under a prefix of this test's own, deleted afterwards."""
    ns = await create_namespace(bootstrap)
    yield ns
    await delete_namespace(bootstrap, ns)


@pytest.fixture
async def producer(bootstrap: str, namespace: str) -> AsyncIterator[Producer]:
    async with Producer(bootstrap, namespace=namespace, client_id="test") as p:
        yield p
