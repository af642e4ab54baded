"""Reading Kafka the way a test checks it: from the beginning, without a consumer group."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from herald.topics import ALL_TOPICS
from herald.topics_cli import apply


async def create_namespace(bootstrap: str) -> str:
    """Declare all of Herald's topics under a fresh prefix, so a test sees only its own records."""
    namespace = f"test-{uuid.uuid4().hex[:10]}."
    await apply(bootstrap, namespace=namespace)
    return namespace


async def delete_namespace(bootstrap: str, namespace: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([namespace + t.name for t in ALL_TOPICS])
    finally:
        await admin.close()


async def read_topic(bootstrap: str, topic: str, count: int, timeout_s: float = 20.0) -> list[Any]:
    """Return the first ``count`` records of every partition of ``topic`` (fewer on timeout)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (metadata,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert metadata["error_code"] == 0, f"topic {topic} does not exist"
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p["partition"]) for p in metadata["partitions"]]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while len(records) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for tp_records in batch.values():
                records.extend(tp_records)
        return records
    finally:
        await consumer.stop()


async def committed_offsets(bootstrap: str, group_id: str, topic: str) -> dict[int, int]:
    """Committed offset per partition of ``topic`` for ``group_id`` (only partitions with one)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_id)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


async def eventually(predicate: Any, timeout_s: float = 20.0, interval_s: float = 0.05) -> None:
    """Wait until ``predicate()`` is true; fail the test when it never becomes true."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        await asyncio.sleep(interval_s)
