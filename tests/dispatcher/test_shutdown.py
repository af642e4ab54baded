"""Stopping: sends in flight finish, the rest is handed back uncommitted and sent after."""

from __future__ import annotations

import asyncio
import time

from dispatcher.conftest import StartDispatcher
from dispatcher.support import accepted, due, entry, issue, publish_tokens, reports, until

from fcm_emulator.client import EmulatorClient
from fcm_emulator.faults import FaultConfig
from herald import topics
from herald.producer import Producer
from herald.v1 import deliveries_pb2
from kit.kafka import committed_offsets

IN_FLIGHT = 4
NOTIFICATIONS = 12


async def test_stop_finishes_sends_in_flight_commits_them_and_hands_back_the_rest(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    start_dispatcher: StartDispatcher,
) -> None:
    browser = await issue(fcm)
    await publish_tokens(producer, "pat", [entry(browser)])
    await fcm.set_faults(FaultConfig(latency_ms=1000))
    first = await start_dispatcher(max_in_flight=IN_FLIGHT)
    acks = [
        await producer.send(topics.NOTIFICATIONS_DUE, "pat", due(f"n-{n}", "pat"))
        for n in range(NOTIFICATIONS)
    ]
    await asyncio.gather(*acks)

    async def first_wave_answered() -> bool:
        return len(await fcm.messages()) >= IN_FLIGHT

    await until(first_wave_answered, "the first sends are answered")
    stopped_at = time.monotonic()
    await first.finish()

    assert time.monotonic() - stopped_at < first.settings.shutdown_grace_s
    finished = await reports(bootstrap, namespace, 2 * IN_FLIGHT)
    assert {r.status for r in finished} == {deliveries_pb2.DELIVERY_STATUS_SENT}
    assert len(await accepted(fcm)) == 2 * IN_FLIGHT
    committed = await committed_offsets(
        bootstrap, first.settings.send_group_id, namespace + topics.NOTIFICATIONS_DUE.name
    )
    assert sum(committed.values()) == 2 * IN_FLIGHT

    await fcm.set_faults(FaultConfig())
    await start_dispatcher()

    everything = await reports(bootstrap, namespace, NOTIFICATIONS)
    assert sorted(r.notification_id for r in everything) == sorted(
        f"n-{n}" for n in range(NOTIFICATIONS)
    )
    assert len(await accepted(fcm, browser.target)) == NOTIFICATIONS
