"""The push-target table: every change runs as one SQL function call (see migrations/), which
also writes the user's new token set to the outbox in the same transaction."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

import asyncpg  # type: ignore[import-untyped,unused-ignore]

from herald.tracing import current_trace_id
from herald_token_api.db import Pool
from herald_token_api.names import TOKENS_TABLE
from herald_token_api.schemas import Platform, TargetKind

log = logging.getLogger(__name__)

T = TypeVar("T")
Outcome = Literal["created", "touched", "moved"]
# A target that changed owner between the function's first look and its locks, or that two
# users registered at once, makes the function give up; it is called again after a short pause.
RETRYABLE = (asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError)
ATTEMPTS = 8
RETRY_PAUSE_S = 0.005


@dataclass(frozen=True)
class NewTarget:
    value: str
    kind: TargetKind
    project_id: str
    platform: Platform
    device_label: str
    user_agent: str


@dataclass(frozen=True)
class Registration:
    outcome: Outcome
    target_id: str
    created_at: datetime
    last_seen_at: datetime
    # Targets evicted to keep the user at the cap.
    evicted: list[str]
    # For a refresh: the caller's old target was deleted.
    replaced: bool


@dataclass(frozen=True)
class StoredTarget:
    target: str
    target_id: str
    kind: TargetKind
    project_id: str
    platform: Platform
    device_label: str
    user_agent: str
    created_at: datetime
    last_seen_at: datetime


async def _retrying(pool: Pool, call: Callable[[Any], Awaitable[T]]) -> T:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with pool.acquire() as connection:
                return await call(connection)
        except RETRYABLE as exc:
            if attempt == ATTEMPTS:
                raise
            log.info("retrying a target change after %s", type(exc).__name__)
            await asyncio.sleep(random.uniform(0, RETRY_PAUSE_S * attempt))
    raise AssertionError("unreachable")


def _trace_id() -> str:
    return current_trace_id() or ""


async def register_on(
    connection: Any,
    user: str,
    target: NewTarget,
    max_targets: int,
    replaces: str | None,
    trace_id: str,
) -> Any:
    """One ``token_register`` call on ``connection``; its row."""
    return await connection.fetchrow(
        "SELECT * FROM token_register($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        user,
        target.value,
        target.kind,
        target.project_id,
        target.platform,
        target.device_label,
        target.user_agent,
        max_targets,
        replaces,
        trace_id,
    )


def registration(row: Any) -> Registration:
    """A ``token_register`` row as a Registration."""
    return Registration(
        outcome=row["outcome"],
        target_id=row["target_id"],
        created_at=row["created_at"],
        last_seen_at=row["last_seen_at"],
        evicted=list(row["evicted"]),
        replaced=row["replaced"],
    )


async def register(
    pool: Pool,
    user: str,
    target: NewTarget,
    *,
    max_targets: int,
    replaces: str | None = None,
    trace_id: str | None = None,
) -> Registration:
    """Insert, touch or move ``target`` to ``user``; with ``replaces``, delete that old target of
    the user in the same transaction (a refresh)."""
    trace = _trace_id() if trace_id is None else trace_id

    async def call(connection: Any) -> Any:
        return await register_on(connection, user, target, max_targets, replaces, trace)

    return registration(await _retrying(pool, call))


async def list_targets(pool: Pool, user: str) -> list[StoredTarget]:
    rows = await pool.fetch(
        f"SELECT target, target_id, kind, project_id, platform, device_label, user_agent,"
        f" created_at, last_seen_at FROM {TOKENS_TABLE} WHERE user_id = $1"
        f" ORDER BY created_at, target",
        user,
    )
    return [StoredTarget(**dict(row)) for row in rows]


async def unregister(pool: Pool, user: str, target_ids: Sequence[str] | None) -> int:
    """Delete the user's targets with these ids (all of them for None); returns how many."""

    async def call(connection: Any) -> int:
        ids = list(target_ids) if target_ids is not None else None
        count: int = await connection.fetchval(
            "SELECT token_unregister($1, $2, $3)", user, ids, _trace_id()
        )
        return count

    return await _retrying(pool, call)


async def invalidate(pool: Pool, user: str, target: str, observed_at: datetime) -> bool:
    """Delete a target FCM rejected, unless it was seen again after ``observed_at``."""

    async def call(connection: Any) -> bool:
        deleted: bool = await connection.fetchval(
            "SELECT token_invalidate($1, $2, $3, $4)", user, target, observed_at, _trace_id()
        )
        return deleted

    return await _retrying(pool, call)


async def stale_users(pool: Pool, cutoff: datetime, limit: int) -> list[str]:
    rows = await pool.fetch(
        f"SELECT DISTINCT user_id FROM {TOKENS_TABLE} WHERE last_seen_at < $1 LIMIT $2",
        cutoff,
        limit,
    )
    return [row["user_id"] for row in rows]


async def prune_user(pool: Pool, user: str, cutoff: datetime) -> int:
    async def call(connection: Any) -> int:
        count: int = await connection.fetchval(
            "SELECT token_prune_user($1, $2, $3)", user, cutoff, _trace_id()
        )
        return count

    return await _retrying(pool, call)


async def database_now(pool: Pool) -> datetime:
    now: datetime = await pool.fetchval("SELECT now()")
    return now
