"""Pruning: targets not seen for the configured age go, every other target stays."""

from __future__ import annotations

from token_api.support import (
    Client,
    as_user,
    count_targets,
    fcm_token,
    make_settings,
    running,
    until,
)

from herald_token_api.db import Pool
from herald_token_api.pruner import prune


async def age(pool: Pool, target: str, days: float) -> None:
    await pool.execute(
        "UPDATE push_tokens SET last_seen_at = now() - $2 * interval '1 day' WHERE target = $1",
        target,
        days,
    )


async def test_pruning_removes_only_stale_targets(offline_api: Client, pool: Pool) -> None:
    owners = {1: "alice", 2: "alice", 3: "bob", 4: "carol"}
    for n, user in owners.items():
        await offline_api.put("/v1/targets", json={"token": fcm_token(n)}, headers=as_user(user))
    await age(pool, fcm_token(1), 61)
    await age(pool, fcm_token(3), 59.9)
    await age(pool, fcm_token(4), 400)
    await pool.execute("TRUNCATE token_outbox")

    assert await prune(pool, older_than_days=60) == 2

    rows = await pool.fetch("SELECT target FROM push_tokens ORDER BY target")
    assert [r["target"] for r in rows] == [fcm_token(2), fcm_token(3)]
    changed = await pool.fetch("SELECT user_id, targets::text FROM token_outbox ORDER BY id")
    assert sorted((r["user_id"], r["targets"] == "[]") for r in changed) == [
        ("alice", False),
        ("carol", True),
    ]
    assert await prune(pool, older_than_days=60) == 0


async def test_the_service_prunes_periodically(database_url: str, pool: Pool) -> None:
    settings = make_settings(database_url, prune_after_days=30, prune_interval_s=0.2)
    async with running(settings) as client:
        for n in (1, 2):
            await client.put("/v1/targets", json={"token": fcm_token(n)}, headers=as_user("alice"))
        await age(pool, fcm_token(1), 31)

        async def pruned() -> bool:
            return await count_targets(pool) == 1

        await until(pruned, timeout_s=10)
    assert await pool.fetchval("SELECT target FROM push_tokens") == fcm_token(2)
