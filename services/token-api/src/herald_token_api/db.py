"""The PostgreSQL connection pool: opened with bounded retries, so the service may start
before the database; broken connections are replaced on the next use."""

from __future__ import annotations

from typing import Any

import asyncpg  # type: ignore[import-untyped,unused-ignore]

from herald.connect import with_retries
from herald_token_api.settings import TokenApiSettings

# asyncpg ships no type information.
Pool = Any
Connection = Any


async def connect(settings: TokenApiSettings) -> Connection:
    return await asyncpg.connect(
        settings.database_url.get_secret_value(),
        timeout=settings.db_timeout_s,
        command_timeout=settings.db_timeout_s,
    )


async def keep_session(_: Connection) -> None:
    """Pooled connections carry no session state (no SET, LISTEN or session lock), so the reset
    query asyncpg runs on every release, a round trip each, is skipped. The pool still rolls
    back a transaction left open."""


async def open_pool(settings: TokenApiSettings) -> Pool:
    async def create() -> Pool:
        return await asyncpg.create_pool(
            settings.database_url.get_secret_value(),
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            timeout=settings.db_timeout_s,
            command_timeout=settings.db_timeout_s,
            reset=keep_session,
        )

    return await with_retries(
        "PostgreSQL", create, settings.connect_attempts, settings.connect_retry_delay_s
    )


async def ping(pool: Pool, timeout_s: float) -> None:
    """Return when PostgreSQL answers through the pool; raise otherwise."""
    async with pool.acquire(timeout=timeout_s) as connection:
        await connection.fetchval("SELECT 1")
