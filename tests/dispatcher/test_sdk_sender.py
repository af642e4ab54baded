"""firebase-admin's own send path (``fcm_client=firebase-admin``) behind the same plug point."""

from __future__ import annotations

from dispatcher.conftest import StartDispatcher
from dispatcher.support import accepted, due, entry, issue, publish_due, publish_tokens, reports

from fcm_emulator.client import EmulatorClient
from herald.producer import Producer
from herald.v1 import deliveries_pb2


async def test_the_firebase_admin_sender_delivers_and_reports_dead_targets(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    start_dispatcher: StartDispatcher,
) -> None:
    live, dead = await issue(fcm), await issue(fcm)
    await fcm.unregister_target(dead.target)
    await publish_tokens(producer, "sam", [entry(live), entry(dead)])
    await start_dispatcher(fcm_client="firebase-admin")
    await publish_due(producer, due("n-sdk", "sam"))

    found = {r.target.value: r for r in await reports(bootstrap, namespace, 2)}

    assert found[live.target].status == deliveries_pb2.DELIVERY_STATUS_SENT
    (sent,) = await accepted(fcm, live.target)
    assert found[live.target].fcm_message_name == sent.name
    assert sent.message["webpush"]["fcm_options"] == {"link": "https://herald.example/timers/tea"}
    assert found[dead.target].status == deliveries_pb2.DELIVERY_STATUS_INVALID_TARGET
    assert found[dead.target].error_code == deliveries_pb2.FCM_ERROR_CODE_UNREGISTERED
