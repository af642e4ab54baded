"""One measured dispatcher scenario: fresh topics with the users' targets, 1 or 2
``herald-dispatcher`` processes started and joined (their group stable), then the notifications
written, and the rate taken from the first to the last delivery report's Kafka timestamp (so
neither start-up nor a rebalance is counted), with the processes' CPU time."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.common import (
    BOOTSTRAP,
    HOST,
    cpu_seconds,
    create_topics,
    delete_keys,
    delete_topics,
    fresh_namespace,
    wait_http_ok,
)
from bench.fcm_loops import PROJECT, Emulator, target
from herald import topics
from herald.batches import BatchWriter
from herald.producer import Producer, event_record
from herald.v1 import common_pb2, notifications_pb2, tokens_pb2
from herald_dev.stack import free_port

# Notifications written per round of acknowledgements.
_WRITE_SLICE = 5000


@dataclass(frozen=True)
class Scenario:
    messages: int
    processes: int = 1
    client: str = "http"
    # HERALD_MAX_IN_FLIGHT per process.
    in_flight: int = 64


@dataclass(frozen=True)
class DispatcherRate:
    per_s: float
    cpu_us_per_notification: float


async def write_tokens(namespace: str, messages: int) -> None:
    """One target per user."""
    async with Producer(BOOTSTRAP, namespace=namespace, linger_ms=20) as producer:
        acks = []
        for n in range(messages):
            entry = tokens_pb2.TokenEntry(
                target=common_pb2.Target(kind=common_pb2.TARGET_KIND_TOKEN, value=target(n)),
                platform=common_pb2.PLATFORM_WEB,
            )
            token_set = tokens_pb2.TokenSet(user_id=f"user-{n}", tokens=[entry], version=1)
            acks.append(await producer.send(topics.TOKENS, f"user-{n}", token_set))
        await asyncio.gather(*acks)


def due_records(messages: int) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """One due notification per user, encoded beforehand: (key, value, headers)."""
    now_ms = int(time.time() * 1000)
    records = []
    for n in range(messages):
        due = notifications_pb2.NotificationDue(
            event_id=f"ev-{n}",
            notification_id=f"bench-{n}",
            user_id=f"user-{n}",
            content=common_pb2.NotificationContent(
                title="Tea is ready",
                body="Your timer ended.",
                click_link="https://herald.example/timers/tea",
                data={"n": str(n)},
            ),
            urgency=common_pb2.URGENCY_HIGH,
        )
        due.occurrence_at.FromMilliseconds(now_ms)
        due.expires_at.FromMilliseconds(now_ms + 3_600_000)
        value, headers = event_record(due)
        assert value is not None
        records.append((due.user_id.encode(), value, headers))
    return records


async def write_due(
    namespace: str, records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]
) -> None:
    """The notifications in record batches: written many times faster than they are sent, so
    the measured rate is the dispatchers'."""
    async with Producer(BOOTSTRAP, namespace=namespace) as producer:
        writer = BatchWriter(producer, topics.NOTIFICATIONS_DUE, linger_s=0.005)
        await writer.refresh_partitions()
        # In slices: aiokafka queues one batch per partition at a time and times out the
        # batches waiting behind a long queue.
        for start in range(0, len(records), _WRITE_SLICE):
            acks = [writer.add(*record) for record in records[start : start + _WRITE_SLICE]]
            writer.flush()
            await asyncio.gather(*acks)


async def wait_group_stable(group: str, members: int, timeout_s: float) -> None:
    """Until the consumer group is Stable with ``members`` members, each with an assignment:
    the joins' rebalances are then over."""
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            (response,) = await admin.describe_consumer_groups([group])
            # DescribeGroups: (error_code, group_id, state, protocol_type, protocol, members)
            _, _, state, _, _, joined, *_ = response.groups[0]
            if state == "Stable" and len(joined) == members and all(m[-1] for m in joined):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"group {group} not stable: {state}, {len(joined)} members")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def report_rate(namespace: str, messages: int, timeout_s: float) -> float:
    """Reports a second between the first and the last of ``messages`` delivery reports."""
    name = namespace + topics.DELIVERIES.name
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(name, p) for p in range(topics.DELIVERIES.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        stamps: list[int] = []
        deadline = time.monotonic() + timeout_s
        while len(stamps) < messages:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(stamps)} of {messages} reports arrived")
            batch = await consumer.getmany(timeout_ms=500)
            stamps.extend(r.timestamp for records in batch.values() for r in records)
    finally:
        await consumer.stop()
    return (len(stamps) - 1) / max(0.001, (max(stamps) - min(stamps)) / 1000)


async def dispatcher_rate(
    scenario: Scenario, fcm: Emulator, redis_url: str, log: Path
) -> DispatcherRate:
    namespace = fresh_namespace("bench-dispatcher")
    await create_topics(namespace)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        await write_tokens(namespace, scenario.messages)
        due = due_records(scenario.messages)
        base_env = {
            **os.environ,
            "HERALD_KAFKA_BOOTSTRAP": BOOTSTRAP,
            "HERALD_TOPIC_NAMESPACE": namespace,
            "HERALD_REDIS_URL": redis_url,
            "HERALD_FCM_BASE_URL": fcm.url,
            "HERALD_FCM_CREDENTIALS": json.dumps({PROJECT: str(fcm.account_file)}),
            "HERALD_FCM_CLIENT": scenario.client,
            "HERALD_RATE_RAMP_UP_S": "0",
            "HERALD_MAX_IN_FLIGHT": str(scenario.in_flight),
            "HERALD_LOG_LEVEL": "WARNING",
        }
        ports = []
        with log.open("ab") as stderr:
            for _ in range(scenario.processes):
                ports.append(free_port())
                env = {**base_env, "HERALD_HEALTH_PORT": str(ports[-1])}
                processes.append(
                    subprocess.Popen(  # noqa: ASYNC220 - started before the measured part
                        [sys.executable, "-m", "herald_dispatcher"], env=env, stderr=stderr
                    )
                )
        for port in ports:
            await wait_http_ok(f"http://{HOST}:{port}/readyz", 60, "a dispatcher")
        # Every process joined and idle before the first notification: the rate is not that
        # of one process alone while the others start, nor does it include a rebalance.
        await wait_group_stable(f"{namespace}herald-dispatcher", scenario.processes, 60)
        cpu_before = [cpu_seconds(p.pid) for p in processes]
        await write_due(namespace, due)
        rate = await report_rate(namespace, scenario.messages, timeout_s=300)
        cpu_s = sum(
            cpu_seconds(p.pid) - before for p, before in zip(processes, cpu_before, strict=True)
        )
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        await delete_topics(namespace)
        await delete_keys(redis_url, f"{namespace}*")
    return DispatcherRate(rate, cpu_s / scenario.messages * 1e6)
