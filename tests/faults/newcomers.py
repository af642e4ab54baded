"""Users who register while a fault is going on, and a reminder for each once they are in."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from faults.load import Population, now_ms, publish_reminders, register
from faults.scenario import FaultClock, Harness

USERS = 100
TARGETS_PER_USER = 2
REGISTRATIONS_PER_S = 40.0
# The fault starts once registrations have run this long.
FAULT_AFTER_S = 1.0
# Their reminders fire this long after the last registration was acknowledged: the outbox
# relay polls every second, then the dispatcher's projection applies the token set.
FIRE_AFTER_S = 5.0
REMINDER_TTL_MS = 600_000


async def register_through(
    harness: Harness, clock: FaultClock, fault: Callable[[], Awaitable[None]]
) -> str:
    """Register new users at a steady pace, run ``fault`` (it injects and heals) while that
    goes on, then schedule one reminder for each acknowledged user; adds them to
    ``clock.extra`` so they are counted like the rest of the load."""
    stack = harness.stack
    wanted = Population.fresh(f"{clock.run_id}-new", USERS, TARGETS_PER_USER)
    registering = asyncio.create_task(
        register(
            harness.api,
            stack.credentials,
            wanted,
            stack.config.project_id,
            per_s=REGISTRATIONS_PER_S,
        )
    )
    await asyncio.sleep(FAULT_AFTER_S)
    await fault()
    joined = await registering
    fire_ms = now_ms() + int(FIRE_AFTER_S * 1000)
    plan = [
        (f"{clock.run_id}-n{i}", user, fire_ms, fire_ms + REMINDER_TTL_MS)
        for i, user in enumerate(joined.users)
    ]
    clock.extra += await publish_reminders(harness.producer, joined, plan)
    return (
        f"{joined.size} of {wanted.size} targets registered during the fault "
        f"({REGISTRATIONS_PER_S:.0f}/s), each then sent a reminder {FIRE_AFTER_S:.0f} s later"
    )
