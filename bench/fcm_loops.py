"""The dispatcher's baselines, on the same FCM emulator: a plain aiohttp send loop (the fastest a
Python sender can go here) and firebase-admin's own ``send_each_async`` (what using the SDK as
it is would give), plus starting and stopping the emulator they send to."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import firebase_admin  # type: ignore[import-untyped,unused-ignore]
from firebase_admin import credentials, messaging

from bench.common import HOST, wait_http_ok
from fcm_emulator import service_account
from fcm_emulator.testing import HttpSender
from herald_dev.stack import free_port

PROJECT = "herald-bench"
SDK_BATCH = 500


@dataclass(frozen=True)
class Emulator:
    url: str
    account_file: Path

    @property
    def account(self) -> dict[str, str]:
        info: dict[str, str] = json.loads(self.account_file.read_text())
        return info


@asynccontextmanager
async def emulator(folder: Path, max_records: int = 1000) -> AsyncIterator[Emulator]:
    """``fcm-emulator serve --quiet`` on a free port with a service account it trusts."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    account_file = folder / "service-account.json"
    service_account.write(account_file, service_account.generate(PROJECT, url))
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, before any traffic
        [
            sys.executable,
            *("-m", "fcm_emulator", "serve", "--quiet", f"--host={HOST}", f"--port={port}"),
            f"--service-account={account_file}",
            f"--max-records={max_records}",
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        await wait_http_ok(f"{url}/healthz", 30, "the FCM emulator")
        yield Emulator(url, account_file)
    finally:
        process.terminate()
        process.wait(timeout=10)


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


@dataclass(frozen=True)
class LoopRate:
    per_s: float
    # CPU time of this (sending) process per message, comparable with a dispatcher's.
    cpu_us_per_message: float


async def raw_loop(fcm: Emulator, messages: int, concurrency: int) -> LoopRate:
    """Accepted sends a second from ``concurrency`` workers sharing one aiohttp pool."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        sender = await HttpSender.for_account(session, fcm.url, fcm.account)
        send_url = f"{fcm.url}/v1/projects/{PROJECT}/messages:send"
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

        cpu, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if accepted != messages:
        raise RuntimeError(f"only {accepted} of {messages} sends were accepted")
    return LoopRate(messages / elapsed, cpu / messages * 1e6)


async def sdk_loop(fcm: Emulator, messages: int) -> LoopRate:
    """Accepted sends a second through ``messaging.send_each_async`` (batches of 500)."""
    app = firebase_admin.initialize_app(
        credentials.Certificate(str(fcm.account_file)), name=f"bench-{time.monotonic_ns()}"
    )
    service = messaging._get_messaging_service(app)
    service._fcm_url = f"{fcm.url}/v1/projects/{PROJECT}/messages:send"
    batch = [
        messaging.Message(
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
    try:
        await messaging.send_each_async(batch[:1], app=app)
        accepted = 0
        cpu, started = time.process_time(), time.perf_counter()
        for start in range(0, messages, SDK_BATCH):
            answer = await messaging.send_each_async(batch[start : start + SDK_BATCH], app=app)
            accepted += answer.success_count
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await service._async_client.aclose()
        await asyncio.to_thread(firebase_admin.delete_app, app)
    if accepted != messages:
        raise RuntimeError(f"only {accepted} of {messages} SDK sends were accepted")
    return LoopRate(messages / elapsed, cpu / messages * 1e6)
