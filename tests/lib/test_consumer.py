"""The consumer loop: dead letters, retries of failing handlers, commits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from herald import topics
from herald.consumer import Consumer, Record
from herald.producer import Producer
from herald.v1 import tokens_pb2
from kit.kafka import committed_offsets, eventually, read_topic


def invalidated(n: int) -> tokens_pb2.TokenInvalidated:
    return tokens_pb2.TokenInvalidated(event_id=f"ev-{n}", user_id="user-1")


def headers_of(raw: Any) -> dict[str, str]:
    return {k: bytes(v).decode() for k, v in raw.headers}


class Run:
    """A consumer running in the background of a test."""

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(consumer.run(self.stop))

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 15)


async def test_undecodable_and_unknown_records_go_to_the_dlq_and_consuming_goes_on(
    bootstrap: str, namespace: str, producer: Producer
) -> None:
    topic = topics.TOKENS_INVALIDATED
    type_header = (topics.HEADER_TYPE, b"herald.v1.TokenInvalidated")
    await (await producer.send_raw(topic, "user-1", b"\xff\xff\xff\xff", [type_header]))
    await (await producer.send_raw(topic, "user-1", b"", [(topics.HEADER_TYPE, b"herald.v1.Nope")]))
    await (await producer.send_raw(topic, "user-1", b"garbage", []))
    await producer.send_and_wait(topic, "user-1", invalidated(1))

    handled: list[Record] = []

    async def handle(record: Record) -> None:
        handled.append(record)

    run = Run(
        Consumer(
            [topic],
            bootstrap=bootstrap,
            group_id="dlq-test",
            producer=producer,
            namespace=namespace,
            handler=handle,
        )
    )
    try:
        await eventually(lambda: len(handled) == 1)
    finally:
        await run.finish()
    assert handled[0].message == invalidated(1)

    dead = await read_topic(bootstrap, namespace + topics.DLQ.name, 3)
    assert len(dead) == 3
    reasons = [headers_of(r)[topics.HEADER_DLQ_REASON] for r in dead]
    assert sorted(reasons) == ["missing-type", "undecodable", "unknown-type"]
    for raw in dead:
        h = headers_of(raw)
        assert h[topics.HEADER_DLQ_TOPIC] == namespace + topic.name
        assert h[topics.HEADER_DLQ_GROUP] == "dlq-test"
        assert h[topics.HEADER_DLQ_DETAIL]
        assert raw.key == b"user-1"
    assert {bytes(r.value) for r in dead} == {b"\xff\xff\xff\xff", b"", b"garbage"}
    assert (
        sum((await committed_offsets(bootstrap, "dlq-test", namespace + topic.name)).values()) == 4
    )


async def test_a_failing_handler_does_not_get_its_offset_committed(
    bootstrap: str, namespace: str, producer: Producer
) -> None:
    topic = topics.TOKENS_INVALIDATED
    for n in range(5):
        await producer.send_and_wait(topic, "same-key", invalidated(n))

    attempts: list[str] = []

    async def fail_on_third(record: Record) -> None:
        assert isinstance(record.message, tokens_pb2.TokenInvalidated)
        attempts.append(record.message.event_id)
        if record.message.event_id == "ev-2":
            raise ConnectionError("downstream unavailable")

    def consumer(handler: Any) -> Consumer:
        return Consumer(
            [topic],
            bootstrap=bootstrap,
            group_id="retry-test",
            producer=producer,
            namespace=namespace,
            handler=handler,
            retry_backoff_s=(0.05, 0.1),
        )

    run = Run(consumer(fail_on_third))
    try:
        await eventually(lambda: attempts.count("ev-2") >= 3)
    finally:
        await run.finish()
    assert "ev-3" not in attempts
    committed = await committed_offsets(bootstrap, "retry-test", namespace + topic.name)
    assert sum(committed.values()) == 2

    seen: list[str] = []

    async def record_all(record: Record) -> None:
        assert isinstance(record.message, tokens_pb2.TokenInvalidated)
        seen.append(record.message.event_id)

    run = Run(consumer(record_all))
    try:
        await eventually(lambda: len(seen) >= 3)
    finally:
        await run.finish()
    assert seen == ["ev-2", "ev-3", "ev-4"]


async def test_invalid_record_raised_by_a_handler_is_dead_lettered(
    bootstrap: str, namespace: str, producer: Producer
) -> None:
    from herald.codec import InvalidRecord

    topic = topics.TOKENS_INVALIDATED
    await producer.send_and_wait(topic, "user-1", invalidated(0))
    await producer.send_and_wait(topic, "user-1", invalidated(1))
    handled: list[str] = []

    async def reject_first(record: Record) -> None:
        assert isinstance(record.message, tokens_pb2.TokenInvalidated)
        if record.message.event_id == "ev-0":
            raise InvalidRecord("bad-target", "target is empty")
        handled.append(record.message.event_id)

    run = Run(
        Consumer(
            [topic],
            bootstrap=bootstrap,
            group_id="reject-test",
            producer=producer,
            namespace=namespace,
            handler=reject_first,
        )
    )
    try:
        await eventually(lambda: handled == ["ev-1"])
    finally:
        await run.finish()
    (dead,) = await read_topic(bootstrap, namespace + topics.DLQ.name, 1)
    assert headers_of(dead)[topics.HEADER_DLQ_REASON] == "bad-target"
    assert headers_of(dead)[topics.HEADER_DLQ_DETAIL] == "target is empty"


async def test_compacted_topics_really_are_compacted(bootstrap: str, namespace: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    from herald.topics_cli import describe

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        configs = await describe(admin, [namespace + t.name for t in topics.ALL_TOPICS])
    finally:
        await admin.close()
    policies = {
        name.removeprefix(namespace): cfg["cleanup.policy"] for name, cfg in configs.items()
    }
    assert policies == {
        "herald.reminders.v1": "compact",
        "herald.tokens.v1": "compact",
        "herald.notifications.due.v1": "delete",
        "herald.tokens.invalidated.v1": "delete",
        "herald.deliveries.v1": "delete",
        "herald.notifications.dlq.v1": "delete",
    }


@pytest.mark.parametrize("batches_in_flight", [1, 2])
async def test_records_that_arrive_while_a_batch_is_handled_come_in_the_next_batch(
    bootstrap: str, namespace: str, producer: Producer, batches_in_flight: int
) -> None:
    """Also with two batches in flight: a consumer that is caught up fetches no second batch
    while the first is handled (that one would take what arrived first, one record, and leave
    the rest for the batch after it)."""
    topic = topics.TOKENS_INVALIDATED
    await producer.send_and_wait(topic, "same-key", invalidated(0))
    batches: list[list[str]] = []
    release = asyncio.Event()

    async def handle(batch: list[Record]) -> None:
        batches.append(
            [
                r.message.event_id
                for r in batch
                if isinstance(r.message, tokens_pb2.TokenInvalidated)
            ]
        )
        if len(batches) == 1:
            await release.wait()

    run = Run(
        Consumer(
            [topic],
            bootstrap=bootstrap,
            group_id=f"next-batch-test-{batches_in_flight}",
            producer=producer,
            namespace=namespace,
            batch_handler=handle,
            batches_in_flight=batches_in_flight,
        )
    )
    try:
        await eventually(lambda: len(batches) == 1)
        # Two records reach Kafka while the first batch is in hand, a moment apart.
        await producer.send_and_wait(topic, "same-key", invalidated(1))
        await asyncio.sleep(0.3)
        await producer.send_and_wait(topic, "same-key", invalidated(2))
        release.set()
        await eventually(lambda: sum(map(len, batches)) == 3)
    finally:
        await run.finish()

    # Not one of them left for the batch after next.
    assert batches == [["ev-0"], ["ev-1", "ev-2"]]
