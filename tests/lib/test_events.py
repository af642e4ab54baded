"""Every event type survives a trip through real Kafka unchanged."""

from __future__ import annotations

import asyncio

from google.protobuf.message import Message

from herald import topics
from herald.consumer import Consumer, Record
from herald.producer import Producer
from herald.tracing import new_trace_id
from kit.events import samples
from kit.kafka import eventually


def topic_for(message: Message) -> topics.Topic:
    return next(t for t in topics.ALL_TOPICS if type(message) in t.message_types)


def test_every_event_type_has_a_sample_and_a_topic() -> None:
    declared = {cls for t in topics.ALL_TOPICS for cls in t.message_types}
    assert {type(m) for m in samples()} == declared


async def test_every_event_round_trips_through_kafka(
    bootstrap: str, namespace: str, producer: Producer
) -> None:
    sent = samples()
    trace_id = new_trace_id()
    for message in sent:
        await producer.send_and_wait(topic_for(message), "user-1", message, trace_id=trace_id)

    received: list[Record] = []

    async def handle(record: Record) -> None:
        received.append(record)

    consumer = Consumer(
        [topic_for(m) for m in sent],
        bootstrap=bootstrap,
        group_id="roundtrip",
        producer=producer,
        namespace=namespace,
        handler=handle,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await eventually(lambda: len(received) >= len(sent))
    finally:
        stop.set()
        await task

    by_type = {type(r.message): r for r in received}
    for message in sent:
        record = by_type[type(message)]
        assert record.message == message
        assert record.topic == topic_for(message).name
        assert record.key == "user-1"
        assert record.trace_id == trace_id


async def test_tombstone_arrives_as_a_record_without_message(
    bootstrap: str, namespace: str, producer: Producer
) -> None:
    await producer.send_and_wait(topics.REMINDERS, "rem-gone", None)
    received: list[Record] = []

    async def handle(record: Record) -> None:
        received.append(record)

    consumer = Consumer(
        [topics.REMINDERS],
        bootstrap=bootstrap,
        group_id="tombstones",
        producer=producer,
        namespace=namespace,
        handler=handle,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await eventually(lambda: len(received) == 1)
    finally:
        stop.set()
        await task
    assert received[0].key == "rem-gone"
    assert received[0].message is None
