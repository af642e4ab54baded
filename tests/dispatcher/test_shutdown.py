"""Stopping: sends in flight finish, the rest is handed back uncommitted and sent after."""

from __future__ import annotations

import asyncio
import time

from dispatcher.conftest import StartDispatcher
from dispatcher.support import PROJECT, accepted, due, reports, slow_browser, until
from redis.asyncio import Redis

from fcm_emulator.client import EmulatorClient
from fcm_emulator.faults import FaultConfig
from herald import topics
from herald.producer import Producer
from herald.v1 import deliveries_pb2
from herald_dispatcher.deliverer import RESENT
from herald_dispatcher.keys import Keys
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
    browser = await slow_browser(fcm, producer, "pat", latency_ms=1000)
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


async def test_deliveries_stopped_while_waiting_for_a_slot_release_their_claims(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    redis: Redis,
    start_dispatcher: StartDispatcher,
) -> None:
    browser = await slow_browser(fcm, producer, "sue", latency_ms=1000)
    ids = [f"w-{n}" for n in range(6)]
    await asyncio.gather(
        *[await producer.send(topics.NOTIFICATIONS_DUE, "sue", due(i, "sue")) for i in ids]
    )
    keys = [Keys(namespace).delivery(i, PROJECT, browser.target) for i in ids]
    # One request in flight; two batches of two, so one delivery claims its key and waits.
    first = await start_dispatcher(max_in_flight=1, batch_max_records=2)

    async def one_sending_one_waiting() -> bool:
        return sum(1 for value in await redis.mget(keys) if value) == 2

    await until(one_sending_one_waiting, "a delivery claimed its key and waits for the slot")
    await first.finish()

    sent = {r.notification_id for r in await reports(bootstrap, namespace, 2, timeout_s=3)}
    assert len(sent) == 1
    # The waiting claim was released: nothing is left pending for the next process to wait out.
    assert [value is not None for value in await redis.mget(keys)] == [i in sent for i in ids]

    await fcm.set_faults(FaultConfig())
    await start_dispatcher()

    async def all_sent() -> bool:
        return len(await accepted(fcm, browser.target)) >= len(ids)

    # Well within a lease (12 s): no claim of the first process was left to wait out.
    await until(all_sent, "every notification sent after the restart", timeout_s=8)
    # The sent one's record may be handled again behind the handed-back ones before it: its key
    # is settled, so it is reported again, not sent.
    everything = await reports(bootstrap, namespace, len(ids) + 1, timeout_s=3)
    assert {r.notification_id for r in everything} == set(ids)
    assert all(r.error_message != RESENT for r in everything)
    assert len(await accepted(fcm, browser.target)) == len(ids)
