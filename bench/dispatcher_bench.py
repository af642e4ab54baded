"""Notifications a second through the whole dispatcher (Kafka in, FCM emulator, reports out),
against a plain aiohttp send loop and firebase-admin's ``send_each_async`` on the same emulator.

Starts ``fcm-emulator serve --quiet`` on 127.0.0.1, then runs each scenario on topics of its own
(a fresh namespace) with one target per user: the token sets and the due notifications are
written first, then 1 or 2 ``herald-dispatcher`` processes are started and the rate is taken
from the first to the last delivery report's Kafka timestamp. The dispatcher gets as many
requests in flight as the raw loop has workers in the same conditions (64 without latency, 500
with it). Needs the local Kafka and Redis (``make infra-up``); uses Redis DB 2 under the
scenario's namespace and deletes what it wrote.

    uv run python bench/dispatcher_bench.py [--messages 20000] [--sdk-messages 1500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import firebase_admin  # type: ignore[import-untyped,unused-ignore]
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from firebase_admin import credentials, messaging
from redis.asyncio import Redis

from fcm_emulator import service_account
from fcm_emulator.client import EmulatorClient
from fcm_emulator.faults import FaultConfig
from fcm_emulator.testing import HttpSender
from herald import topics
from herald.producer import Producer
from herald.topics_cli import apply
from herald.v1 import common_pb2, notifications_pb2, tokens_pb2

PROJECT = "herald-bench"
BOOTSTRAP = "127.0.0.1:19092"
REDIS_URL = "redis://127.0.0.1:63790/2"
SDK_BATCH = 500


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def target(n: int) -> str:
    """A well-formed registration token the emulator accepts without having issued it."""
    return f"cAbCdEfGhIjKlMnOpQrStU:APA91bBench{n:012d}" + "x" * 100


def webpush(n: int) -> dict[str, Any]:
    return {
        "token": target(n),
        "data": {"n": str(n)},
        "webpush": {
            "headers": {"TTL": "3600", "Urgency": "high"},
            "notification": {"title": "Tea is ready", "body": "Your timer ended."},
            "fcm_options": {"link": "https://herald.example/timers/tea"},
        },
    }


async def raw_loop(url: str, info: dict[str, str], messages: int, concurrency: int) -> float:
    """Accepted sends a second from ``concurrency`` workers sharing one aiohttp pool."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        sender = await HttpSender.for_account(session, url, info)
        send_url = f"{url}/v1/projects/{PROJECT}/messages:send"
        headers = {"Authorization": f"Bearer {sender.bearer}", "Content-Type": "application/json"}
        bodies = [json.dumps({"message": webpush(n)}).encode() for n in range(messages)]
        indexes = iter(range(messages))
        accepted = 0

        async def worker() -> None:
            nonlocal accepted
            for index in indexes:
                async with session.post(send_url, data=bodies[index], headers=headers) as answer:
                    await answer.read()
                    accepted += answer.status == 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if accepted != messages:
        raise RuntimeError(f"only {accepted} of {messages} sends were accepted")
    return messages / elapsed


async def sdk_loop(url: str, account_file: Path, messages: int) -> float:
    """Accepted sends a second through ``messaging.send_each_async`` (batches of 500)."""
    app = firebase_admin.initialize_app(credentials.Certificate(str(account_file)), name="bench")
    service = messaging._get_messaging_service(app)
    service._fcm_url = f"{url}/v1/projects/{PROJECT}/messages:send"
    batch = [
        messaging.Message(
            fid=None,
            data={"n": str(n)},
            webpush=messaging.WebpushConfig(
                headers={"TTL": "3600", "Urgency": "high"},
                notification=messaging.WebpushNotification(title="Tea", body="Your timer ended."),
                fcm_options=messaging.WebpushFCMOptions(link="https://herald.example/timers/tea"),
            ),
        )
        for n in range(messages)
    ]
    for n, message in enumerate(batch):
        message.token = target(n)
    await messaging.send_each_async(batch[:1], app=app)
    accepted = 0
    started = time.perf_counter()
    for start in range(0, messages, SDK_BATCH):
        answer = await messaging.send_each_async(batch[start : start + SDK_BATCH], app=app)
        accepted += answer.success_count
    elapsed = time.perf_counter() - started
    await service._async_client.aclose()
    await asyncio.to_thread(firebase_admin.delete_app, app)
    if accepted != messages:
        raise RuntimeError(f"only {accepted} of {messages} SDK sends were accepted")
    return messages / elapsed


@dataclass
class Scenario:
    name: str
    messages: int
    processes: int = 1
    client: str = "aiohttp"
    latency_ms: int = 0
    # HERALD_MAX_IN_FLIGHT: the raw loop's concurrency in the same conditions.
    in_flight: int = 64


async def write_inputs(namespace: str, messages: int) -> None:
    async with Producer(BOOTSTRAP, namespace=namespace, linger_ms=20) as producer:
        acks = []
        for n in range(messages):
            user = f"user-{n}"
            entry = tokens_pb2.TokenEntry(
                target=common_pb2.Target(kind=common_pb2.TARGET_KIND_TOKEN, value=target(n)),
                platform=common_pb2.PLATFORM_WEB,
            )
            token_set = tokens_pb2.TokenSet(user_id=user, tokens=[entry], version=1)
            acks.append(await producer.send(topics.TOKENS, user, token_set))
        now_ms = int(time.time() * 1000)
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
            acks.append(await producer.send(topics.NOTIFICATIONS_DUE, due.user_id, due))
        await asyncio.gather(*acks)


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


async def wait_ready(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("a dispatcher did not become ready")
            await asyncio.sleep(0.2)


async def dispatcher_rate(
    scenario: Scenario, url: str, account_file: Path, log: Path
) -> dict[str, Any]:
    namespace = f"bench-{uuid.uuid4().hex[:8]}."
    await apply(BOOTSTRAP, namespace=namespace)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        await write_inputs(namespace, scenario.messages)
        base_env = {
            **os.environ,
            "HERALD_TOPIC_NAMESPACE": namespace,
            "HERALD_REDIS_URL": REDIS_URL,
            "HERALD_FCM_BASE_URL": url,
            "HERALD_FCM_CREDENTIALS": json.dumps({PROJECT: str(account_file)}),
            "HERALD_FCM_CLIENT": scenario.client,
            "HERALD_RATE_RAMP_UP_S": "0",
            "HERALD_MAX_IN_FLIGHT": str(scenario.in_flight),
            "HERALD_LOG_LEVEL": "WARNING",
        }
        ports = []
        with log.open("ab") as stderr:
            for _ in range(scenario.processes):
                port = free_port()
                ports.append(port)
                env = {**base_env, "HERALD_HEALTH_PORT": str(port)}
                processes.append(
                    subprocess.Popen(  # noqa: ASYNC220 - started before the measured part
                        [sys.executable, "-m", "herald_dispatcher"], env=env, stderr=stderr
                    )
                )
        for port in ports:
            await wait_ready(port, 60)
        cpu_before = [cpu_seconds(p.pid) for p in processes]
        rate = await report_rate(namespace, scenario.messages, timeout_s=240)
        cpu_s = sum(
            cpu_seconds(p.pid) - before for p, before in zip(processes, cpu_before, strict=True)
        )
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
        await forget(namespace)
    return {
        "scenario": scenario.name,
        "notifications_per_s": round(rate),
        "dispatcher_cpu_us_per_notification": round(cpu_s / scenario.messages * 1e6),
        "messages": scenario.messages,
        "processes": scenario.processes,
        "client": scenario.client,
        "latency_ms": scenario.latency_ms,
        "in_flight": scenario.in_flight,
    }


async def forget(namespace: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        await admin.delete_topics([namespace + t.name for t in topics.ALL_TOPICS])
    finally:
        await admin.close()
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{namespace}*", count=1000)]
        for start in range(0, len(keys), 1000):
            await redis.delete(*keys[start : start + 1000])
    finally:
        await redis.aclose()


async def run(args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    account_file = folder / "service-account.json"
    service_account.write(account_file, service_account.generate(PROJECT, url))
    info = json.loads(account_file.read_text())
    log = folder / "dispatcher.log"
    emulator = subprocess.Popen(  # noqa: ASYNC220 - started once, before any traffic
        [
            sys.executable,
            "-m",
            "fcm_emulator",
            "serve",
            "--quiet",
            "--host=127.0.0.1",
            f"--port={port}",
            f"--service-account={account_file}",
            "--max-records=1000",
        ],
        stderr=subprocess.DEVNULL,
    )
    results: list[dict[str, Any]] = []
    try:
        async with EmulatorClient(url) as fcm:
            deadline = time.monotonic() + 15
            while True:
                try:
                    await fcm.stats()
                    break
                except aiohttp.ClientError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.1)
            for latency_ms in (0, args.latency_ms):
                await fcm.set_faults(FaultConfig(latency_ms=latency_ms))
                concurrency = args.concurrency if not latency_ms else args.in_flight
                rate = await raw_loop(url, info, args.messages, concurrency)
                results.append(
                    {
                        "scenario": f"raw aiohttp loop, {concurrency} concurrent",
                        "notifications_per_s": round(rate),
                        "latency_ms": latency_ms,
                    }
                )
                if not latency_ms:
                    rate = await sdk_loop(url, account_file, args.sdk_messages)
                    results.append(
                        {
                            "scenario": "firebase-admin send_each_async loop",
                            "notifications_per_s": round(rate),
                            "latency_ms": 0,
                        }
                    )
                scenarios = [
                    Scenario(
                        "dispatcher x1", args.messages, latency_ms=latency_ms, in_flight=concurrency
                    )
                ]
                if not latency_ms:
                    scenarios += [
                        Scenario(
                            "dispatcher x1, firebase-admin sender",
                            args.sdk_messages,
                            client="firebase-admin",
                            in_flight=concurrency,
                        ),
                        Scenario(
                            "dispatcher x2", args.messages, processes=2, in_flight=concurrency
                        ),
                    ]
                for scenario in scenarios:
                    results.append(await dispatcher_rate(scenario, url, account_file, log))
                    print(json.dumps(results[-1]), flush=True)
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--sdk-messages", type=int, default=1_500)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=64, help="raw loop, no latency")
    parser.add_argument("--in-flight", type=int, default=500, help="raw loop with latency")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dispatcher-bench-") as folder:
        results = asyncio.run(run(args, Path(folder)))
    print()
    for result in results:
        print(
            f"{result['scenario']:<45} latency {result['latency_ms']:>3} ms "
            f"{result['notifications_per_s']:>8} notifications/s"
            f"{'':>4}{result.get('dispatcher_cpu_us_per_notification', '-')} us CPU each"
        )


if __name__ == "__main__":
    main()
