"""How many sends a second the FCM emulator accepts, against firebase-admin's async path.

Starts `fcm-emulator serve --quiet` as a subprocess on 127.0.0.1, sends a bounded number of
webpush messages with a plain aiohttp client loop, then with `messaging.send_each_async`
(batches of 500, the SDK's limit), prints both rates and their ratio, and stops the emulator.

    uv run python bench/fcm_emulator_bench.py [--requests 20000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import aiohttp
import firebase_admin  # type: ignore[import-untyped,unused-ignore]
from firebase_admin import credentials, messaging

from fcm_emulator import service_account
from fcm_emulator.testing import HttpSender
from herald_dev.stack import free_port

PROJECT = "herald-bench"
TARGET = "cAbCdEfGhIjKlMnOpQrStU:APA91bBenchmarkTargetThatNobodyIssuedButLooksValid"
SDK_BATCH = 500


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def webpush_message(n: int) -> dict[str, Any]:
    return {
        "token": TARGET,
        "data": {"notification_id": f"n-{n}", "occurrence": "2026-11-23T08:00:00Z"},
        "webpush": {
            "headers": {"TTL": "3600", "Urgency": "high"},
            "notification": {"title": "Tea is ready", "body": "Your timer ended."},
            "fcm_options": {"link": "https://herald.example/timers/tea"},
        },
    }


async def wait_until_up(session: aiohttp.ClientSession, url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            async with session.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.1)


async def plain_aiohttp(url: str, info: dict[str, str], requests: int, concurrency: int) -> float:
    """Accepted sends per second from `concurrency` workers sharing one connection pool."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        sender = await HttpSender.for_account(session, url, info)
        send_url = f"{url}/v1/projects/{PROJECT}/messages:send"
        headers = {
            "Authorization": f"Bearer {sender.bearer}",
            "Content-Type": "application/json",
        }
        bodies = [json.dumps({"message": webpush_message(n)}).encode() for n in range(requests)]
        next_index = iter(range(requests))
        accepted = 0

        async def worker() -> None:
            nonlocal accepted
            for index in next_index:
                async with session.post(send_url, data=bodies[index], headers=headers) as resp:
                    await resp.read()
                    accepted += resp.status == 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if accepted != requests:
        raise RuntimeError(f"only {accepted} of {requests} sends were accepted")
    return requests / elapsed


async def firebase_admin_async(url: str, account_file: Path, requests: int) -> float:
    """Accepted sends per second through `messaging.send_each_async`."""
    app = firebase_admin.initialize_app(credentials.Certificate(str(account_file)), name="bench")
    service = messaging._get_messaging_service(app)
    service._fcm_url = f"{url}/v1/projects/{PROJECT}/messages:send"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        messages = [messaging.Message(**_sdk_fields(n)) for n in range(requests)]
    await messaging.send_each_async(messages[:1], app=app)
    accepted = 0
    started = time.perf_counter()
    for start in range(0, requests, SDK_BATCH):
        batch = await messaging.send_each_async(messages[start : start + SDK_BATCH], app=app)
        accepted += batch.success_count
    elapsed = time.perf_counter() - started
    await service._async_client.aclose()
    await asyncio.to_thread(firebase_admin.delete_app, app)
    if accepted != requests:
        raise RuntimeError(f"only {accepted} of {requests} SDK sends were accepted")
    return requests / elapsed


def _sdk_fields(n: int) -> dict[str, Any]:
    raw = webpush_message(n)
    return {
        "token": raw["token"],
        "data": raw["data"],
        "webpush": messaging.WebpushConfig(
            headers=raw["webpush"]["headers"],
            notification=messaging.WebpushNotification(**raw["webpush"]["notification"]),
            fcm_options=messaging.WebpushFCMOptions(link=raw["webpush"]["fcm_options"]["link"]),
        ),
    }


async def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    account_file = folder / "service-account.json"
    service_account.write(account_file, service_account.generate(PROJECT, url))
    info = json.loads(account_file.read_text())
    emulator = subprocess.Popen(  # noqa: ASYNC220 - started once, before any traffic
        [
            sys.executable,
            "-m",
            "fcm_emulator",
            "serve",
            "--host=127.0.0.1",
            f"--port={port}",
            f"--service-account={account_file}",
            "--quiet" if not args.log_requests else "--log-requests",
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as session:
            await wait_until_up(session, url, timeout_s=15)
        cpu_before = cpu_seconds(emulator.pid)
        plain = await plain_aiohttp(url, info, args.requests, args.concurrency)
        emulator_cpu_s = cpu_seconds(emulator.pid) - cpu_before
        sdk = await firebase_admin_async(url, account_file, args.sdk_requests)
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    return {
        "plain_aiohttp_sends_per_s": round(plain),
        "firebase_admin_send_each_async_sends_per_s": round(sdk),
        "ratio": round(plain / sdk, 1),
        "emulator_cpu_us_per_send": round(emulator_cpu_s / args.requests * 1e6, 1),
        "emulator_sends_per_cpu_s": round(args.requests / emulator_cpu_s),
        "requests": args.requests,
        "concurrency": args.concurrency,
        "sdk_requests": args.sdk_requests,
        "emulator_logs_requests": args.log_requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--sdk-requests", type=int, default=2_000)
    parser.add_argument("--log-requests", action="store_true", help="emulator logs each request")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fcm-bench-") as folder:
        result = asyncio.run(run(args, Path(folder)))
    sdk = result["firebase_admin_send_each_async_sends_per_s"]
    print(f"plain aiohttp loop:        {result['plain_aiohttp_sends_per_s']:>8} sends/s")
    print(f"firebase-admin async path: {sdk:>8} sends/s")
    print(f"ratio:                     {result['ratio']:>8}x")
    print(f"emulator CPU per send:     {result['emulator_cpu_us_per_send']:>8} us")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
