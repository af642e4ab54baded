"""The shared rate limit per FCM project: under FCM's quota, shared by replicas, ramped up."""

from __future__ import annotations

import asyncio
import time

from dispatcher.conftest import StartDispatcher
from dispatcher.support import due, entry, issue, publish_tokens
from redis.asyncio import Redis

from fcm_emulator.client import EmulatorClient
from fcm_emulator.faults import FaultConfig
from herald import topics
from herald.producer import Producer
from herald_dispatcher.keys import Keys
from herald_dispatcher.ratelimit import RateLimiter
from kit.kafka import committed_offsets

QUOTA_PER_MINUTE = 120
HERALD_PER_MINUTE = 110
NOTIFICATIONS = 300
OBSERVED_S = 12.0


async def test_the_limiter_keeps_sends_under_the_quota_without_a_429_storm(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    start_dispatcher: StartDispatcher,
) -> None:
    browser = await issue(fcm)
    await publish_tokens(producer, "ned", [entry(browser)])
    await fcm.set_faults(FaultConfig(quota_per_minute=QUOTA_PER_MINUTE))
    running = await start_dispatcher(rate_per_minute=HERALD_PER_MINUTE)
    acks = [
        await producer.send(topics.NOTIFICATIONS_DUE, "ned", due(f"n-{n}", "ned"))
        for n in range(NOTIFICATIONS)
    ]
    await asyncio.gather(*acks)
    await asyncio.sleep(OBSERVED_S)

    stopped_at = time.monotonic()
    await running.finish()
    shutdown_s = time.monotonic() - stopped_at

    sends = await fcm.messages()
    assert [m for m in sends if m.status == 429] == []
    span_s = sends[-1].received_at - sends[0].received_at
    rate_per_s = HERALD_PER_MINUTE / 60
    burst = rate_per_s * running.settings.rate_burst_s
    assert len(sends) <= rate_per_s * span_s + burst + 1
    assert len(sends) >= rate_per_s * (OBSERVED_S - 2)
    # Stopping hands the waiting notifications back: nothing unsent is committed.
    assert shutdown_s < running.settings.shutdown_grace_s
    committed = await committed_offsets(
        bootstrap, running.settings.send_group_id, namespace + topics.NOTIFICATIONS_DUE.name
    )
    assert sum(committed.values()) <= len(sends)


async def test_replicas_share_one_bucket_that_ramps_up_after_it_is_created(redis: Redis) -> None:
    keys = Keys("ramp-test.")
    replicas = [
        RateLimiter(redis, keys, rate_per_minute=1200, burst_s=0.5, ramp_up_s=4.0, idle_reset_s=60)
        for _ in range(2)
    ]
    stop = asyncio.Event()
    granted: list[float] = []
    started = time.monotonic()

    async def send(limiter: RateLimiter) -> None:
        while await limiter.acquire("herald-ramp", stop):
            granted.append(time.monotonic() - started)

    asyncio.get_running_loop().call_later(4.0, stop.set)
    await asyncio.gather(*(send(limiter) for limiter in replicas for _ in range(10)))

    first_second = sum(1 for t in granted if t < 1.0)
    last_second = sum(1 for t in granted if 3.0 <= t < 4.0)
    # Full rate is 20/s for both replicas together; the ramp starts at a quarter of it
    # (1/ramp_up_s) and reaches it after 4 s: about 43 grants instead of 80.
    assert first_second <= 9
    assert 13 <= last_second <= 22
    assert len(granted) <= 55


async def test_sends_waiting_for_a_grant_all_go_on_in_the_turn_it_comes_in(redis: Redis) -> None:
    """Hundreds of sends waiting for tokens share one call to Redis and go on together once
    it is answered. Behind a lock they went on one per turn of the event loop, which a busy
    dispatcher (500 in flight) took tens of milliseconds to get through."""
    limiter = RateLimiter(
        redis, Keys("grant-test."), rate_per_minute=600_000, burst_s=1, ramp_up_s=0, idle_reset_s=60
    )
    stop = asyncio.Event()
    turns = 0
    counting = True

    async def count_turns() -> None:
        nonlocal turns
        while counting:
            turns += 1
            await asyncio.sleep(0)

    async def send() -> int:
        assert await limiter.acquire("herald-grant", stop)
        return turns

    counter = asyncio.ensure_future(count_turns())
    went_on = await asyncio.gather(*(send() for _ in range(300)))
    counting = False
    await counter
    assert max(went_on) - min(went_on) <= 1
