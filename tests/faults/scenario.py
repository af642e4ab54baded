"""One scenario: a steady bounded load, one fault injected in the middle of it, then the count.

Timeline (seconds after the start): reminders are published at 0, one per user, fire times
spread evenly over [lead, lead + spread]; send-now requests run at a steady rate over the same
window; the fault starts at lead + fault_at. The scenario then waits until every requested
delivery arrived or expired (at most ``drain_timeout_s`` after the last fire time or the end of the
fault, whichever is later), waits
``settle_s`` more for late duplicates, and counts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from faults.infra import PrivateInfra
from faults.ledger import Reported, Request, pending, tally
from faults.load import Population, SendNow, now_ms, publish_reminders
from faults.report import Report, Row

from fcm_emulator.client import EmulatorClient
from fcm_emulator.records import ReceivedMessage
from herald import topics
from herald.producer import Producer
from herald.v1 import deliveries_pb2
from herald_dev import deliveries
from herald_dev.api import TokenApi
from herald_dev.kafka_read import read_range
from herald_dev.stack import Stack
from herald_dispatcher.deliverer import RESENT

POLL_S = 0.5
DUMP_ENV = "HERALD_FAULTS_DUMP"


@dataclass(frozen=True)
class Shape:
    lead_s: float = 2.0
    spread_s: float = 12.0
    fault_at_s: float = 4.0
    send_now_per_s: float = 4.0
    # Every n-th reminder expires ``short_ttl_s`` after its fire time (the rest after 10 min),
    # so "never after expiry" is tested on notifications a fault can make expire.
    short_ttl_every: int = 10
    short_ttl_s: float = 8.0
    long_ttl_s: float = 600.0
    drain_timeout_s: float = 60.0
    settle_s: float = 2.0


@dataclass
class Harness:
    """What a scenario and its fault work with; one per session."""

    stack: Stack
    infra: PrivateInfra
    emulator: EmulatorClient
    api: TokenApi
    producer: Producer
    population: Population
    report: Report


@dataclass
class FaultClock:
    """When the fault began and when it was over (the process back and ready, the component
    up again, the emulator's faults cleared), in Unix seconds."""

    run_id: str
    injected_at: float = 0.0
    healed_at: float = 0.0
    # Requests the fault itself made (e.g. registrations of new users and their reminders).
    extra: list[Request] = field(default_factory=list)

    def inject(self) -> None:
        self.injected_at = time.time()

    def heal(self) -> None:
        self.healed_at = time.time()

    def elapsed_s(self) -> float:
        return time.time() - self.injected_at


# A fault: does its damage, undoes it, and returns a note for the table.
Fault = Callable[[Harness, FaultClock], Awaitable[str]]


def reminder_plan(
    run: str, population: Population, start_ms: int, shape: Shape
) -> list[tuple[str, str, int, int]]:
    users = population.users
    plan = []
    for i, user in enumerate(users):
        fire_ms = start_ms + int((shape.lead_s + shape.spread_s * i / len(users)) * 1000)
        ttl_s = shape.short_ttl_s if i % shape.short_ttl_every == 0 else shape.long_ttl_s
        plan.append((f"{run}-r{i}", user, fire_ms, fire_ms + int(ttl_s * 1000)))
    return plan


async def reports_since(stack: Stack, since_ms: int) -> Reported:
    """What Herald's delivery reports since ``since_ms`` say about (nid, target or "")."""
    config = stack.config
    records = await read_range(
        config.kafka_bootstrap, config.namespace + topics.DELIVERIES.name, since_ms
    )
    found = Reported()
    for record in records:
        report = deliveries.decode(record)
        if report is None:
            continue
        pair = (report.notification_id.split("@", 1)[0], report.target.value)
        if report.status == deliveries_pb2.DELIVERY_STATUS_EXPIRED:
            found.expired.add(pair)
        elif (
            report.status == deliveries_pb2.DELIVERY_STATUS_SENT and report.error_message == RESENT
        ):
            found.resent.add(pair)
    return found


async def wait_for_deliveries(
    emulator: EmulatorClient, requests: list[Request], since_s: float, deadline_s: float
) -> None:
    """Until nothing requested is still to come, or the (Unix) deadline."""
    while time.time() < deadline_s:
        messages = await emulator.messages(since=since_s)
        if pending(requests, messages, now_ms()) == 0:
            return
        await asyncio.sleep(POLL_S)


async def run(harness: Harness, name: str, fault: Fault, shape: Shape | None = None) -> Row:
    """Drive the load, inject ``fault`` in the middle, count; the row is added to the report."""
    shape = shape or Shape()
    stack, emulator = harness.stack, harness.emulator
    stack.check_alive()
    await emulator.clear_faults()
    run_id = f"{name.split()[0].lower()}-{secrets.token_hex(3)}"
    start_ms = now_ms()
    since_s = start_ms / 1000 - 1
    plan = reminder_plan(run_id, harness.population, start_ms, shape)
    requests = await publish_reminders(harness.producer, harness.population, plan)

    sender = SendNow(stack.config.api_url, stack.credentials.service_key)
    clock = FaultClock(run_id)
    try:
        sending = asyncio.create_task(
            sender.steady(
                run_id,
                harness.population,
                shape.send_now_per_s,
                shape.lead_s + shape.spread_s,
            )
        )
        await asyncio.sleep(
            max(0.0, start_ms / 1000 + shape.lead_s + shape.fault_at_s - time.time())
        )
        notes = await fault(harness, clock)
        requests += await sending
    finally:
        await sender.close()
    requests += clock.extra

    busy_until_s = max(max(r.fire_at_ms for r in requests) / 1000, clock.healed_at)
    await wait_for_deliveries(emulator, requests, since_s, busy_until_s + shape.drain_timeout_s)
    await asyncio.sleep(shape.settle_s)
    stack.check_alive()
    messages = await emulator.messages(since=since_s)
    dump(run_id, requests, messages)
    counted = tally(requests, messages, await reports_since(stack, start_ms), run_id)
    disturbed_until = counted.last_disturbed_at
    recovery_s = max(0.0, disturbed_until - clock.injected_at) if disturbed_until else 0.0
    row = Row(
        name, counted, clock.healed_at - clock.injected_at, recovery_s, notes, clock.injected_at
    )
    harness.report.add(row)
    return row


def dump(run_id: str, requests: list[Request], messages: list[ReceivedMessage]) -> None:
    """With HERALD_FAULTS_DUMP set to a folder, keep the scenario's raw material there."""
    folder = os.environ.get(DUMP_ENV)
    if not folder:
        return
    path = Path(folder) / f"{run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "requests": [dataclasses.asdict(r) | {"targets": sorted(r.targets)} for r in requests],
        "messages": [m.to_json() for m in messages],
    }
    path.write_text(json.dumps(body))


def assert_clean(row: Row) -> None:
    """Fail naming the scenario and every count that must be 0 and is not."""
    failed = {what: count for what, count in row.must_be_zero.items() if count}
    assert not failed, (
        f"{row.scenario}: {failed} of {row.tally.requested} requested deliveries "
        f"(delivered {row.tally.delivered}); {row.line()}"
    )
