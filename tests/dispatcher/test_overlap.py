"""Batches overlap: the next batch's sends start while the previous batch's answers are still
awaited, at most ``batches_in_flight`` batches at a time, and offsets are committed in order."""

from __future__ import annotations

import asyncio

from dispatcher.conftest import StartDispatcher
from dispatcher.support import accepted, due, entry, issue, publish_tokens, reports, until

from fcm_emulator.client import EmulatorClient
from fcm_emulator.faults import FaultConfig
from herald import topics
from herald.producer import Producer
from herald.v1 import deliveries_pb2
from kit.kafka import committed_offsets

LATENCY_S = 1.0


async def test_the_next_batch_is_sent_while_the_previous_one_waits_for_answers(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    start_dispatcher: StartDispatcher,
) -> None:
    browser = await issue(fcm)
    await publish_tokens(producer, "kim", [entry(browser)])
    await fcm.set_faults(FaultConfig(latency_ms=int(LATENCY_S * 1000)))
    running = await start_dispatcher(batch_max_records=1, batches_in_flight=2)
    acks = [
        await producer.send(topics.NOTIFICATIONS_DUE, "kim", due(f"n-{n}", "kim")) for n in range(3)
    ]
    await asyncio.gather(*acks)

    found = {r.notification_id: r for r in await reports(bootstrap, namespace, 3)}
    sent = {m.message["webpush"]["headers"]["Topic"]: m for m in await accepted(fcm)}

    assert {n: r.status for n, r in found.items()} == {
        f"n-{n}": deliveries_pb2.DELIVERY_STATUS_SENT for n in range(3)
    }
    # Batches of one record: the second went out while the first waited for its answer; the
    # third only once the first was finished (two batches at a time).
    assert sent["n-1"].received_at - sent["n-0"].received_at < LATENCY_S / 2
    assert sent["n-2"].received_at - sent["n-0"].received_at >= LATENCY_S * 0.9
    group = running.settings.send_group_id
    topic = namespace + topics.NOTIFICATIONS_DUE.name

    async def all_committed() -> bool:
        return sum((await committed_offsets(bootstrap, group, topic)).values()) == 3

    await until(all_committed, "every record is committed")
