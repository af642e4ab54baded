"""The Lua scripts of one shard, against real Redis: fencing, lost state, leases, time."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from herald_scheduler.batching import ScriptBatcher
from herald_scheduler.keys import ShardKeys
from herald_scheduler.store import SCRIPTS, Fenced, Loaded, Lost, ShardStore, Upserted

NOW = 1_800_000_000_000


@pytest.fixture
def store(redis: Redis) -> ShardStore:
    return ShardStore(ScriptBatcher(redis, SCRIPTS), ShardKeys.for_shard("t.reminders", 3))


async def opened(store: ShardStore, now_ms: int = NOW) -> int:
    epoch = await store.acquire(now_ms)
    await store.wipe(epoch)
    await store.seal(epoch, -1)
    return epoch


async def test_nothing_is_taken_before_its_fire_time_and_a_lapsed_lease_returns_it(
    store: ShardStore,
) -> None:
    epoch = await opened(store)
    await store.upsert(epoch, 0, "r", b"rec", NOW + 1000, "*")
    assert (await store.take(epoch, NOW + 999, NOW + 5000, 10)).taken == []
    first = await store.take(epoch, NOW + 1000, NOW + 5000, 10)
    assert [(t.reminder_id, t.occurrence_ms, t.record) for t in first.taken] == [
        ("r", NOW + 1000, b"rec")
    ]
    assert first.next_lease_ms == NOW + 5000
    assert (await store.take(epoch, NOW + 4999, NOW + 9000, 10)).taken == []
    again = await store.take(epoch, NOW + 5000, NOW + 9000, 10)
    assert again.lapsed == 1
    assert [t.reminder_id for t in again.taken] == ["r"]
    assert await store.complete(epoch, [("r", NOW + 1000, None)]) == set()
    assert (await store.take(epoch, NOW + 99_000, NOW + 99_000, 10)).pending == 0


async def test_intake_is_idempotent_by_offset_and_by_content(store: ShardStore) -> None:
    epoch = await opened(store)
    assert await store.upsert(epoch, 5, "r", b"v1", NOW, "*") is Upserted.APPLIED
    assert await store.upsert(epoch, 5, "r", b"v2", NOW + 1, "*") is Upserted.SEEN
    assert await store.upsert(epoch, 6, "r", b"v1", NOW, "*") is Upserted.SAME
    assert await store.upsert(epoch, 7, "r", b"v2", NOW + 1, "*") is Upserted.APPLIED
    assert await store.applied(epoch) == 7
    taken = await store.take(epoch, NOW + 1, NOW + 10, 10)
    assert [(t.record, t.occurrence_ms) for t in taken.taken] == [(b"v2", NOW + 1)]
    # Rescheduled while in flight: completing the old occurrence leaves the new one armed.
    await store.upsert(epoch, 8, "r", b"v3", NOW + 50, "*")
    assert await store.complete(epoch, [("r", NOW + 1, None)]) == {"r"}
    assert [t.record for t in (await store.take(epoch, NOW + 50, NOW + 60, 10)).taken] == [b"v3"]


async def test_a_later_epoch_fences_every_write_of_an_earlier_one(store: ShardStore) -> None:
    first = await opened(store)
    await store.upsert(first, 0, "r", b"rec", NOW, "*")
    second = await store.acquire(NOW - 10_000)
    assert second > first
    with pytest.raises(Fenced):
        await store.take(first, NOW, NOW + 10, 10)
    with pytest.raises(Fenced):
        await store.upsert(first, 1, "s", b"rec", NOW, "*")
    with pytest.raises(Fenced):
        await store.load(first, [Loaded("s", b"rec", NOW, None)])
    with pytest.raises(Fenced):
        await store.reclaim(first)
    assert [t.reminder_id for t in (await store.take(second, NOW, NOW + 10, 10)).taken] == ["r"]


async def test_a_flush_is_lost_state_not_fencing_even_in_the_middle_of_a_rebuild(
    store: ShardStore, redis: Redis
) -> None:
    epoch = await opened(store)
    await store.upsert(epoch, 0, "r", b"rec", NOW, "*")
    # The scheduler's tests own DB 1.
    await redis.flushdb()
    with pytest.raises(Lost):
        await store.take(epoch, NOW, NOW + 10, 10)
    await store.reclaim(epoch)
    with pytest.raises(Lost):
        await store.applied(epoch)
    await store.wipe(epoch)
    await store.load(epoch, [Loaded("r", b"rec", NOW, None)])
    await redis.flushdb()
    with pytest.raises(Lost):
        await store.load(epoch, [Loaded("s", b"rec", NOW, None)])
    await store.reclaim(epoch)
    await store.wipe(epoch)
    await store.load(epoch, [Loaded("r", b"rec", NOW, None)])
    await store.seal(epoch, 0)
    assert [t.reminder_id for t in (await store.take(epoch, NOW, NOW + 10, 10)).taken] == ["r"]
