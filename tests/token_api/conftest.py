"""Fixtures for the token-api: a PostgreSQL database of its own for the session (migrated, then
dropped), emptied before each test, and the app running in-process against it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import pytest
from token_api.support import Client, make_settings, running

from herald_token_api.db import Pool
from herald_token_api.migrate import migrate
from herald_token_api.settings import TokenApiSettings


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
async def admin_url() -> str:
    return TokenApiSettings().database_url.get_secret_value()


@pytest.fixture(scope="session")
async def database_url(admin_url: str) -> AsyncIterator[str]:
    name = f"herald_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = _with_database(admin_url, name)
    connection = await asyncpg.connect(url)
    try:
        await migrate(connection)
    finally:
        await connection.close()
    yield url
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Pool]:
    """A pool on the test database, emptied first."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    await pool.execute("TRUNCATE push_tokens, token_outbox")
    yield pool
    await pool.close()


@pytest.fixture
async def api(
    database_url: str, pool: Pool, bootstrap: str, namespace: str
) -> AsyncIterator[Client]:
    """The app with Kafka (its own topics) and an empty database."""
    settings = make_settings(database_url, kafka_bootstrap=bootstrap, topic_namespace=namespace)
    async with running(settings) as client:
        yield client


@pytest.fixture
async def offline_api(database_url: str, pool: Pool) -> AsyncIterator[Client]:
    """The app with an empty database and Kafka down: changes stay in the outbox."""
    async with running(make_settings(database_url)) as client:
        yield client
