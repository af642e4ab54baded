"""The control row: the same load with no fault, for the lateness the others are read against."""

from __future__ import annotations

import pytest
from faults.scenario import FaultClock, Harness, assert_clean, run


async def no_fault(harness: Harness, clock: FaultClock) -> str:
    clock.inject()
    clock.heal()
    return "no fault (baseline)"


@pytest.mark.timeout(240)
async def test_baseline_delivers_everything_once_on_time(harness: Harness) -> None:
    assert_clean(await run(harness, "baseline", no_fault))
