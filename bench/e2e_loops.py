"""Timing reminders from their fire time to the FCM emulator's receipt.

Each reminder carries its fire time and a run tag in its data, which the dispatcher passes to
FCM as the message's data; the emulator records when each send arrived (``received_at``), so
lateness = receipt - fire time, on the one clock of this machine. The baseline sends straight
to the emulator from one asyncio loop that sleeps until each fire time: the floor for any
Python sender under the same load, read back the same way.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import aiohttp

from bench.common import percentile
from fcm_emulator.client import EmulatorClient
from fcm_emulator.testing import HttpSender
from herald import topics
from herald.producer import Producer
from herald.v1 import common_pb2, reminders_pb2

RAW_IN_FLIGHT = 500


def fire_times(start_ms: int, rate: int, count: int) -> list[int]:
    return [start_ms + n * 1000 // rate for n in range(count)]


async def schedule(producer: Producer, tag: str, users: int, fire_at_ms: list[int]) -> None:
    """One ReminderScheduled per fire time, users taken in turn."""
    futures = []
    for n, at in enumerate(fire_at_ms):
        rid = f"{tag}-{n}"
        message = reminders_pb2.ReminderScheduled(
            event_id=uuid.uuid4().hex,
            reminder_id=rid,
            user_id=f"user-{n % users}",
            content=common_pb2.NotificationContent(
                title="Tea is ready", body=rid, data={"fire_at_ms": str(at), "run": tag}
            ),
        )
        message.fire_at.FromMilliseconds(at)
        futures.append(await producer.send(topics.REMINDERS, rid, message))
        if len(futures) >= 10_000:
            await asyncio.gather(*futures)
            futures.clear()
    await asyncio.gather(*futures)


async def accepted(fcm: EmulatorClient) -> int:
    return int((await fcm.stats())["totals"].get("ACCEPTED", 0))


async def lateness_of(
    fcm: EmulatorClient, tag: str, since_s: float, expected: int, before: int, timeout_s: float
) -> list[float]:
    """Sorted lateness (ms) of the sends tagged ``tag``, once ``expected`` more sends than
    ``before`` were accepted (or ``timeout_s`` passed: then fewer are returned)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await accepted(fcm) >= before + expected:
            break
        await asyncio.sleep(0.25)
    late = []
    for record in await fcm.messages(since=since_s):
        data = (record.message or {}).get("data") or {}
        if record.status == 200 and data.get("run") == tag:
            late.append(record.received_at * 1000 - int(data["fire_at_ms"]))
    return sorted(late)


async def raw_direct(
    url: str, account: dict[str, str], project_id: str, tag: str, fire_at_ms: list[int]
) -> None:
    """POST each message to the emulator at its fire time, at most RAW_IN_FLIGHT at once."""
    connector = aiohttp.TCPConnector(limit=RAW_IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector) as session:
        sender = await HttpSender.for_account(session, url, account)
        send_url = f"{url}/v1/projects/{project_id}/messages:send"
        headers = {"Authorization": f"Bearer {sender.bearer}", "Content-Type": "application/json"}
        slots = asyncio.Semaphore(RAW_IN_FLIGHT)
        tasks: set[asyncio.Task[None]] = set()

        async def send(n: int, at: int) -> None:
            body = {
                "message": {
                    "token": f"cAbCdEfGhIjKlMnOpQrStU:APA91bRaw{n:012d}" + "r" * 100,
                    "data": {"fire_at_ms": str(at), "run": tag},
                    "webpush": {"notification": {"title": "Tea is ready", "body": tag}},
                }
            }
            try:
                async with session.post(send_url, data=json.dumps(body), headers=headers) as r:
                    await r.read()
            finally:
                slots.release()

        for n, at in enumerate(fire_at_ms):
            delay_s = (at - time.time() * 1000) / 1000
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            await slots.acquire()
            task = asyncio.create_task(send(n, at))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)


def quantiles(late: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(late, 50),
        "p99": percentile(late, 99),
        "max": late[-1] if late else float("nan"),
    }
