"""Deletes targets not seen for ``prune_after_days``, one user at a time (each user's new set
goes out through the outbox), once at start-up and then every ``prune_interval_s``."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from prometheus_client import Counter

from herald_token_api import store
from herald_token_api.db import Pool
from herald_token_api.kafka import wait_or_stop

log = logging.getLogger(__name__)

USERS_PER_BATCH = 500
RETRY_AFTER_FAILURE_S = 60.0
PRUNED = Counter("herald_token_api_targets_pruned_total", "Targets pruned as stale.")


async def prune(pool: Pool, older_than_days: int) -> int:
    """Delete every target last seen more than ``older_than_days`` ago; returns how many."""
    cutoff = await store.database_now(pool) - timedelta(days=older_than_days)
    total = 0
    while users := await store.stale_users(pool, cutoff, USERS_PER_BATCH):
        for user in users:
            total += await store.prune_user(pool, user, cutoff)
    PRUNED.inc(total)
    if total:
        log.info("pruned %d stale targets", total, extra={"older_than_days": older_than_days})
    return total


async def run(pool: Pool, older_than_days: int, interval_s: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        delay_s = interval_s
        try:
            await prune(pool, older_than_days)
        except Exception as exc:
            log.warning("pruning failed; will try again: %r", exc)
            delay_s = min(interval_s, RETRY_AFTER_FAILURE_S)
        await wait_or_stop(stop, delay_s)
