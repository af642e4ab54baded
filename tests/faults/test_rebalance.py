"""Consumer-group rebalances under load: a second dispatcher and a second scheduler join, then
leave (SIGTERM, the planned handover)."""

from __future__ import annotations

import asyncio

import pytest
from faults.scenario import FaultClock, Harness, assert_clean, run

from herald_dev.stack import free_port

# How long the extra instances take part before they leave again.
TOGETHER_S = 3.0


async def scale_out_and_in(harness: Harness, clock: FaultClock) -> str:
    stack = harness.stack
    clock.inject()
    await asyncio.gather(
        stack.start_part("dispatcher", instance="dispatcher-2", health_port=free_port()),
        stack.start_part("scheduler", instance="scheduler-2", health_port=free_port()),
    )
    joined_s = clock.elapsed_s()
    await asyncio.sleep(TOGETHER_S)
    codes = await asyncio.gather(stack.stop_part("dispatcher-2"), stack.stop_part("scheduler-2"))
    clock.heal()
    assert all(code == 0 for code in codes), (
        f"the extra instances did not stop cleanly: exit codes {codes}"
    )
    return (
        f"dispatcher-2 and scheduler-2 ready {joined_s:.1f} s after start, "
        f"SIGTERM {TOGETHER_S:.0f} s later (exit 0)"
    )


@pytest.mark.timeout(240)
async def test_rebalance_add_and_remove_instances(harness: Harness) -> None:
    assert_clean(await run(harness, "9. rebalance: add, then remove instances", scale_out_and_in))
