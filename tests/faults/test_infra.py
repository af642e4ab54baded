"""Restarts of the infrastructure under load: the Kafka broker, Redis (flushed, and restarted),
PostgreSQL. Each is the suite's private instance (see conftest.py), never the shared one."""

from __future__ import annotations

import pytest
from faults.newcomers import register_through
from faults.scenario import FaultClock, Harness, assert_clean, run
from redis.asyncio import Redis


async def restart(harness: Harness, clock: FaultClock, component: str) -> str:
    clock.inject()
    down_s = await harness.infra.down(component)
    up_s = await harness.infra.up(component)
    clock.heal()
    return f"infra.sh down {component} ({down_s:.1f} s), up ({up_s:.1f} s)"


async def restart_kafka(harness: Harness, clock: FaultClock) -> str:
    return await restart(harness, clock, "kafka")


async def flush_redis(harness: Harness, clock: FaultClock) -> str:
    redis = Redis.from_url(harness.infra.redis_url)
    try:
        clock.inject()
        await redis.flushall()
        clock.heal()
    finally:
        await redis.aclose()
    return "FLUSHALL: scheduler index, token projection, delivery keys, rate buckets gone"


async def restart_redis(harness: Harness, clock: FaultClock) -> str:
    return await restart(harness, clock, "redis")


async def restart_postgres(harness: Harness, clock: FaultClock) -> str:
    async def fault() -> None:
        await restart(harness, clock, "postgres")

    return "restart during registrations; " + await register_through(harness, clock, fault)


@pytest.mark.timeout(240)
async def test_kafka_broker_restarted(harness: Harness) -> None:
    assert_clean(await run(harness, "4. restart Kafka broker", restart_kafka))


@pytest.mark.timeout(240)
async def test_redis_flushed(harness: Harness) -> None:
    assert_clean(await run(harness, "5a. FLUSHALL Redis", flush_redis))


@pytest.mark.timeout(240)
async def test_redis_restarted(harness: Harness) -> None:
    assert_clean(await run(harness, "5b. restart Redis", restart_redis))


@pytest.mark.timeout(240)
async def test_postgres_restarted(harness: Harness) -> None:
    assert_clean(await run(harness, "6. restart PostgreSQL", restart_postgres))
