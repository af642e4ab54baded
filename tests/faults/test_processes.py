"""kill -9 of each service in the middle of its work, then a restart."""

from __future__ import annotations

import asyncio
import time

import pytest
from faults.newcomers import register_through
from faults.scenario import FaultClock, Harness, assert_clean, run
from redis.asyncio import Redis

from fcm_emulator.faults import FaultConfig
from herald import topics
from herald_scheduler.keys import ShardKeys

# Added at the emulator while the dispatcher is killed, so sends are in flight at that moment.
IN_FLIGHT_LATENCY_MS = 150.0
# How long to watch for a taken-but-unpublished reminder before killing the scheduler anyway.
LEASE_WATCH_S = 5.0


async def kill_dispatcher(harness: Harness, clock: FaultClock) -> str:
    await harness.emulator.set_faults(FaultConfig(latency_ms=IN_FLIGHT_LATENCY_MS))
    clock.inject()
    await harness.stack.kill_part("dispatcher")
    await harness.emulator.clear_faults()
    await harness.stack.start_part("dispatcher")
    clock.heal()
    return f"SIGKILL with sends in flight ({IN_FLIGHT_LATENCY_MS:.0f} ms at the emulator)"


async def leased(harness: Harness) -> bool:
    """Watch the scheduler's in-flight sets until one holds a reminder: taken from the due set,
    not yet acknowledged by Kafka. False when none was seen within LEASE_WATCH_S."""
    config = harness.stack.config
    topic = config.namespace + topics.REMINDERS.name
    keys = [ShardKeys.for_shard(topic, p).lease for p in range(topics.REMINDERS.partitions)]
    redis = Redis.from_url(config.scheduler_redis_url)
    deadline = time.monotonic() + LEASE_WATCH_S
    try:
        while time.monotonic() < deadline:
            pipe = redis.pipeline(transaction=False)
            for key in keys:
                pipe.zcard(key)
            if any(await pipe.execute()):
                return True
            await asyncio.sleep(0.001)
        return False
    finally:
        await redis.aclose()


async def kill_scheduler(harness: Harness, clock: FaultClock) -> str:
    caught = await leased(harness)
    clock.inject()
    await harness.stack.kill_part("scheduler")
    await harness.stack.start_part("scheduler")
    clock.heal()
    moment = "between take and publish" if caught else "(no lease seen: killed anyway)"
    return f"SIGKILL {moment}"


async def kill_token_api(harness: Harness, clock: FaultClock) -> str:
    async def fault() -> None:
        clock.inject()
        await harness.stack.kill_part("token-api")
        await harness.stack.start_part("token-api")
        clock.heal()

    return "SIGKILL during registrations; " + await register_through(harness, clock, fault)


@pytest.mark.timeout(240)
async def test_dispatcher_killed_mid_batch(harness: Harness) -> None:
    assert_clean(await run(harness, "1. kill -9 dispatcher mid-batch", kill_dispatcher))


@pytest.mark.timeout(240)
async def test_scheduler_killed_between_take_and_publish(harness: Harness) -> None:
    assert_clean(
        await run(harness, "2. kill -9 scheduler between take and publish", kill_scheduler)
    )


@pytest.mark.timeout(240)
async def test_token_api_killed_during_registrations(harness: Harness) -> None:
    assert_clean(await run(harness, "3. kill -9 token-api during registrations", kill_token_api))
