"""FCM itself failing: a stretch of 503 UNAVAILABLE, then a 429 QUOTA_EXCEEDED window with
Retry-After. Shorter than the issue's 30 s of 503s so the whole suite fits in ``make test``;
the dispatcher's backoff (1, 2, 4 s in process, then via the scheduler) is exercised all the
same."""

from __future__ import annotations

import asyncio

import pytest
from faults.scenario import FaultClock, Harness, assert_clean, run

from fcm_emulator.errors import FcmErrorCode
from fcm_emulator.faults import FaultConfig

UNAVAILABLE_S = 10.0
QUOTA_S = 5.0
RETRY_AFTER_S = 3


async def fcm_outage(harness: Harness, clock: FaultClock) -> str:
    emulator = harness.emulator
    clock.inject()
    await emulator.set_faults(FaultConfig(error_rates={FcmErrorCode.UNAVAILABLE: 1.0}))
    await asyncio.sleep(UNAVAILABLE_S)
    quota = FaultConfig(error_rates={FcmErrorCode.QUOTA_EXCEEDED: 1.0}, retry_after_s=RETRY_AFTER_S)
    await emulator.set_faults(quota)
    await asyncio.sleep(QUOTA_S)
    await emulator.clear_faults()
    clock.heal()
    totals = (await emulator.stats())["totals"]
    refused = totals.get("UNAVAILABLE", 0) + totals.get("QUOTA_EXCEEDED", 0)
    return (
        f"{UNAVAILABLE_S:.0f} s of 503 UNAVAILABLE, then {QUOTA_S:.0f} s of 429 QUOTA_EXCEEDED "
        f"(Retry-After {RETRY_AFTER_S} s); {refused} sends refused so far this session"
    )


@pytest.mark.timeout(240)
async def test_fcm_unavailable_then_quota_exceeded(harness: Harness) -> None:
    assert_clean(await run(harness, "7. FCM 503s, then 429 with Retry-After", fcm_outage))
