"""Registrations gathered into one transaction: the same outcomes as one by one, fewer commits,
and a group that fails is run again one by one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import pytest
from token_api.support import fcm_token

from herald_token_api.db import Pool
from herald_token_api.registrar import Registrar
from herald_token_api.store import NewTarget


def new_target(n: int, platform: str = "web") -> NewTarget:
    return NewTarget(fcm_token(n), "token", "", platform, "", "")  # type: ignore[arg-type]


@pytest.fixture
async def narrow_pool(database_url: str, pool: Pool) -> AsyncIterator[Pool]:
    """Two connections for many callers, so registrations queue and gather."""
    narrow = await asyncpg.create_pool(database_url, min_size=2, max_size=2)
    yield narrow
    await narrow.close()


async def test_concurrent_registrations_share_commits_and_keep_each_outcome(
    narrow_pool: Pool, pool: Pool
) -> None:
    registrar = Registrar(narrow_pool, max_targets=10)
    done = await asyncio.gather(
        *(registrar.register(f"user-{n}", new_target(n)) for n in range(40))
    )
    assert [d.outcome for d in done] == ["created"] * 40
    owners = await pool.fetch("SELECT target, user_id FROM push_tokens")
    assert {r["target"]: r["user_id"] for r in owners} == {
        fcm_token(n): f"user-{n}" for n in range(40)
    }
    assert await pool.fetchval("SELECT count(*) FROM token_outbox") == 40
    # Rows written by one transaction share its id (xmin).
    commits = await pool.fetchval("SELECT count(DISTINCT xmin::text) FROM token_outbox")
    assert commits < 40

    again = await registrar.register("user-1", new_target(1))
    assert again.outcome == "touched"


async def test_one_users_changes_in_one_group_keep_their_order(
    narrow_pool: Pool, pool: Pool
) -> None:
    registrar = Registrar(narrow_pool, max_targets=10)
    moves = [registrar.register("alice", new_target(n)) for n in range(5)]
    # The same target taken by bob in the middle of alice's changes.
    moves.insert(3, registrar.register("bob", new_target(0)))
    done = await asyncio.gather(*moves)
    assert [d.outcome for d in done] == ["created"] * 3 + ["moved"] + ["created"] * 2
    rows = await pool.fetch("SELECT user_id, targets::text FROM token_outbox ORDER BY id")
    sets = [(r["user_id"], [t["value"] for t in json.loads(r["targets"])]) for r in rows]
    assert sets == [
        ("alice", [fcm_token(0)]),
        ("alice", [fcm_token(0), fcm_token(1)]),
        ("alice", [fcm_token(0), fcm_token(1), fcm_token(2)]),
        ("alice", [fcm_token(1), fcm_token(2)]),
        ("bob", [fcm_token(0)]),
        ("alice", [fcm_token(1), fcm_token(2), fcm_token(3)]),
        ("alice", [fcm_token(1), fcm_token(2), fcm_token(3), fcm_token(4)]),
    ]


async def test_a_failing_group_runs_again_one_by_one(narrow_pool: Pool, pool: Pool) -> None:
    registrar = Registrar(narrow_pool, max_targets=10)
    # Keep both connections busy so that the next registrations gather into one group.
    async with pool.acquire() as blocker:
        await blocker.execute("BEGIN")
        await blocker.execute("LOCK TABLE push_tokens IN SHARE MODE")
        calls = [registrar.register(f"user-{n}", new_target(n)) for n in range(6)]
        # A platform the table's check refuses fails the group's transaction, and then itself.
        calls.append(registrar.register("mallory", new_target(99, platform="symbian")))
        results = asyncio.gather(*calls, return_exceptions=True)
        await asyncio.sleep(0.2)
        await blocker.execute("COMMIT")
        done = await results
    assert [getattr(d, "outcome", None) for d in done[:6]] == ["created"] * 6
    assert isinstance(done[6], asyncpg.exceptions.CheckViolationError)
    assert await pool.fetchval("SELECT count(*) FROM push_tokens") == 6
    assert await pool.fetchval("SELECT count(*) FROM token_outbox") == 6


async def test_a_busy_call_runs_the_next_groups_and_one_that_fails_runs_alone(
    database_url: str, pool: Pool
) -> None:
    one = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    registrar = Registrar(one, max_targets=10)
    try:
        async with pool.acquire() as blocker:
            await blocker.execute("BEGIN")
            await blocker.execute("LOCK TABLE push_tokens IN SHARE MODE")
            # The first group takes the only connection and waits for the lock; the rest gather
            # behind it, one of them a platform the table's check refuses.
            first = [registrar.register(f"user-{n}", new_target(n)) for n in range(3)]
            started = asyncio.gather(*first, return_exceptions=True)
            await asyncio.sleep(0.2)
            rest = [registrar.register(f"user-{n}", new_target(n)) for n in range(3, 6)]
            rest.append(registrar.register("mallory", new_target(99, platform="symbian")))
            waiting = asyncio.gather(*rest, return_exceptions=True)
            await asyncio.sleep(0.2)
            await blocker.execute("COMMIT")
            done = [*await started, *await waiting]
        # Registrations that arrive afterwards still go through.
        after = await asyncio.gather(
            *(registrar.register(f"user-{n}", new_target(n)) for n in range(6, 9))
        )
    finally:
        await one.close()
    assert [getattr(d, "outcome", None) for d in done[:6]] == ["created"] * 6
    assert isinstance(done[6], asyncpg.exceptions.CheckViolationError)
    assert [d.outcome for d in after] == ["created"] * 3
    assert await pool.fetchval("SELECT count(*) FROM push_tokens") == 9
    assert await pool.fetchval("SELECT count(*) FROM token_outbox") == 9
