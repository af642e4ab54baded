"""The dispatcher's own copy of users' targets, kept from herald.tokens.v1."""

from __future__ import annotations

from dispatcher.conftest import StartDispatcher
from dispatcher.support import accepted, due, entry, issue, publish_due, publish_tokens, reports
from redis.asyncio import Redis

from fcm_emulator.client import EmulatorClient
from herald.producer import Producer
from herald.v1 import deliveries_pb2


async def test_targets_survive_redis_losing_them_and_a_tombstone_removes_them(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    redis: Redis,
    start_dispatcher: StartDispatcher,
) -> None:
    browser, laptop = await issue(fcm), await issue(fcm)
    await publish_tokens(producer, "lea", [entry(browser)], version=1)
    await publish_tokens(producer, "lea", [entry(browser), entry(laptop)], version=2)
    await publish_tokens(producer, "max", [entry(await issue(fcm))], version=1)
    await start_dispatcher()
    await publish_due(producer, due("n-1", "lea"))
    assert len(await reports(bootstrap, namespace, 2)) == 2

    await redis.flushdb()
    await publish_due(producer, due("n-2", "lea"))

    after_loss = [r for r in await reports(bootstrap, namespace, 4) if r.notification_id == "n-2"]
    assert sorted((r.target.value, r.status) for r in after_loss) == sorted(
        [
            (browser.target, deliveries_pb2.DELIVERY_STATUS_SENT),
            (laptop.target, deliveries_pb2.DELIVERY_STATUS_SENT),
        ]
    )

    await publish_tokens(producer, "lea", [])
    await publish_due(producer, due("n-3", "lea"))

    (gone,) = [r for r in await reports(bootstrap, namespace, 5) if r.notification_id == "n-3"]
    assert gone.status == deliveries_pb2.DELIVERY_STATUS_NO_TARGETS
    assert len(await accepted(fcm, browser.target)) == 2
    assert len(await accepted(fcm, laptop.target)) == 2
