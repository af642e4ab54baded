"""Poison records on every topic Herald consumes: garbage bytes, an unknown message type, and
a known type with invalid fields, published in the middle of the load on the partitions the
load uses. Each must end in the DLQ; none may stop, block or leak into a delivery."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from faults.ledger import NID_KEY
from faults.scenario import FaultClock, Harness, assert_clean, run
from google.protobuf.message import Message

from herald import topics
from herald.topics import HEADER_DLQ_OFFSET, HEADER_DLQ_PARTITION, HEADER_DLQ_TOPIC, HEADER_TYPE
from herald.v1 import common_pb2, notifications_pb2, reminders_pb2, tokens_pb2
from herald_dev.kafka_read import read_range

GARBAGE = b"\xff\x00not a protobuf\xfe" * 4
UNKNOWN_TYPE = "herald.v1.NoSuchEvent"
Source = tuple[str, int, int]
published: dict[str, list[Source]] = {}


def invalid_events(run_id: str, user: str) -> list[tuple[topics.Topic, str, Message]]:
    """Per topic: a key on the load's partitions and an event of the right type that its
    consumer must refuse."""
    content = common_pb2.NotificationContent(title="poison", data={NID_KEY: f"{run_id}-poison"})
    return [
        # No fire time.
        (
            topics.REMINDERS,
            f"{run_id}-poison",
            reminders_pb2.ReminderScheduled(
                event_id=str(uuid.uuid4()), reminder_id=f"{run_id}-poison", user_id=user
            ),
        ),
        # No notification id, for a real user: must not reach the user's devices.
        (
            topics.NOTIFICATIONS_DUE,
            user,
            notifications_pb2.NotificationDue(
                event_id=str(uuid.uuid4()), user_id=user, content=content
            ),
        ),
        # Keyed by one user, naming another, with a target without a value.
        (
            topics.TOKENS,
            f"{run_id}-poison-user",
            tokens_pb2.TokenSet(
                event_id=str(uuid.uuid4()),
                user_id=f"{run_id}-someone-else",
                version=1,
                tokens=[tokens_pb2.TokenEntry(target=common_pb2.Target())],
            ),
        ),
        # No target.
        (
            topics.TOKENS_INVALIDATED,
            user,
            tokens_pb2.TokenInvalidated(event_id=str(uuid.uuid4()), user_id=user),
        ),
    ]


async def poison(harness: Harness, clock: FaultClock) -> str:
    producer = harness.producer
    user = harness.population.users[0]
    acks: list[Any] = []
    clock.inject()
    unknown = [(HEADER_TYPE, UNKNOWN_TYPE.encode())]
    for topic, key, event in invalid_events(clock.run_id, user):
        known = [(HEADER_TYPE, event.DESCRIPTOR.full_name.encode())]
        acks.append(await producer.send_raw(topic, key, GARBAGE, known))
        acks.append(await producer.send_raw(topic, key, b"\x08\x01", unknown))
        acks.append(await producer.send(topic, key, event))
    sources = []
    for ack in acks:
        meta = await ack
        sources.append((meta.topic, meta.partition, meta.offset))
    clock.heal()
    published[clock.run_id] = sources
    return f"{len(sources)} poison records: garbage, unknown type, invalid fields, on 4 topics"


async def dead_lettered(harness: Harness) -> set[Source]:
    config = harness.stack.config
    records = await read_range(config.kafka_bootstrap, config.namespace + topics.DLQ.name)
    found = set()
    for record in records:
        topic, partition, offset = (
            record.header(HEADER_DLQ_TOPIC),
            record.header(HEADER_DLQ_PARTITION),
            record.header(HEADER_DLQ_OFFSET),
        )
        if topic is not None and partition is not None and offset is not None:
            found.add((topic, int(partition), int(offset)))
    return found


@pytest.mark.timeout(240)
async def test_poison_records_on_every_topic(harness: Harness) -> None:
    row = await run(harness, "8. poison records on every topic", poison)
    assert_clean(row)
    (sources,) = [published[run_id] for run_id in published if run_id.startswith("8.")]
    missing = sorted(set(sources) - await dead_lettered(harness))
    assert not missing, f"poison records not in the DLQ (topic, partition, offset): {missing}"
