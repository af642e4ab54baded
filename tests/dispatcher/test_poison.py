"""Records the dispatcher cannot use go to the dead-letter topic; it goes on sending."""

from __future__ import annotations

from dispatcher.conftest import StartDispatcher
from dispatcher.support import accepted, due, entry, issue, publish_due, publish_tokens, reports

from fcm_emulator.client import EmulatorClient
from herald import topics
from herald.producer import Producer
from herald.v1 import deliveries_pb2, tokens_pb2
from kit.kafka import read_topic

DUE_TYPE = b"herald.v1.NotificationDue"


async def test_poison_records_are_dead_lettered_and_the_next_notification_is_delivered(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    start_dispatcher: StartDispatcher,
) -> None:
    browser = await issue(fcm)
    await publish_tokens(producer, "kim", [entry(browser)])
    await start_dispatcher()
    due_topic = topics.NOTIFICATIONS_DUE
    insecure = due("n-http", "kim")
    insecure.content.click_link = "http://insecure.example/"
    untyped = due("n-untyped", "kim").SerializeToString()
    garbage = b"\xff\xfe not protobuf"
    poison = [
        await producer.send_raw(due_topic, "kim", garbage, [("herald-type", DUE_TYPE)]),
        await producer.send_raw(due_topic, "kim", untyped, []),
        await producer.send(due_topic, "kim", tokens_pb2.TokenSet(user_id="kim")),
        await producer.send(due_topic, "kim", due("n-nobody", "")),
        await producer.send(due_topic, "kim", insecure),
    ]
    for future in poison:
        await future
    await publish_due(producer, due("n-good", "kim"))

    dead = await read_topic(bootstrap, namespace + topics.DLQ.name, 5)
    (report,) = await reports(bootstrap, namespace, 1)

    reasons = sorted(dict((k, bytes(v)) for k, v in d.headers)["herald-dlq-reason"] for d in dead)
    assert reasons == sorted(
        [b"undecodable", b"missing-type", b"unknown-type", b"incomplete", b"bad-click-link"]
    )
    assert all(
        dict((k, bytes(v)) for k, v in d.headers)["herald-dlq-source-topic"]
        == (namespace + due_topic.name).encode()
        for d in dead
    )
    assert report.notification_id == "n-good"
    assert report.status == deliveries_pb2.DELIVERY_STATUS_SENT
    assert len(await accepted(fcm, browser.target)) == 1


async def test_token_sets_that_contradict_their_key_or_lack_a_target_are_dead_lettered(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    start_dispatcher: StartDispatcher,
) -> None:
    browser = await issue(fcm)
    stranger = await issue(fcm)
    await publish_tokens(producer, "kim", [entry(browser)])
    await start_dispatcher()
    someone_else = tokens_pb2.TokenSet(user_id="mallory", tokens=[entry(stranger)], version=2)
    empty_target = tokens_pb2.TokenSet(user_id="kim", tokens=[tokens_pb2.TokenEntry()], version=3)
    for bad in (someone_else, empty_target):
        await producer.send_and_wait(topics.TOKENS, "kim", bad)
    await publish_due(producer, due("n-after", "kim"))

    dead = await read_topic(bootstrap, namespace + topics.DLQ.name, 2)
    (report,) = await reports(bootstrap, namespace, 1)

    reasons = sorted(dict((k, bytes(v)) for k, v in d.headers)["herald-dlq-reason"] for d in dead)
    assert reasons == [b"incomplete", b"key-mismatch"]
    assert report.target.value == browser.target
    assert len(await accepted(fcm, browser.target)) == 1
    assert await accepted(fcm, stranger.target) == []
