"""A dispatcher killed mid-batch and started again: every device shows each notification once.

Sends it had claimed but got no answer for are in doubt: their requests may have reached FCM
or never left. The restarted dispatcher sends them again with the notification's replace tag
(web push Topic and notification tag), so nothing is lost, and a device that got the first one
replaces it with the second instead of showing two."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from dispatcher.support import (
    PROJECT,
    REDIS_URL,
    FcmFront,
    accepted,
    due,
    entry,
    free_port,
    issue,
    publish_tokens,
    reports,
    wait_ready,
)
from redis.asyncio import Redis

from fcm_emulator.client import EmulatorClient
from fcm_emulator.testing import RunningEmulator
from herald import topics
from herald.producer import Producer
from herald.v1 import deliveries_pb2
from herald_dispatcher.deliverer import RESENT
from kit.kafka import committed_offsets

USERS = 12
NOTIFICATIONS = 36
TARGETS_PER_USER = 2
IN_FLIGHT = 16
ANSWERED_BEFORE_KILL = 2 * IN_FLIGHT


def dispatcher_env(namespace: str, fcm_url: str, account_file: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HERALD_TOPIC_NAMESPACE": namespace,
        "HERALD_REDIS_URL": REDIS_URL,
        "HERALD_FCM_BASE_URL": fcm_url,
        "HERALD_FCM_CREDENTIALS": json.dumps({PROJECT: str(account_file)}),
        "HERALD_HEALTH_PORT": str(free_port()),
        "HERALD_MAX_IN_FLIGHT": str(IN_FLIGHT),
        "HERALD_RATE_RAMP_UP_S": "0",
        "HERALD_PROJECTION_CHECK_S": "0.2",
        "HERALD_KAFKA_SESSION_TIMEOUT_MS": "6000",
        "HERALD_SHUTDOWN_GRACE_S": "8",
    }


async def start(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "herald_dispatcher", env=env, stderr=stderr
        )
    await wait_ready(int(env["HERALD_HEALTH_PORT"]))
    return process


@pytest.mark.parametrize("reached_fcm", [True, False], ids=["reached-fcm", "never-left"])
async def test_kill_9_mid_batch_then_restart_shows_every_notification_once_on_every_device(
    reached_fcm: bool,
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    redis: Redis,
    emulator: RunningEmulator,
    account_file: Path,
    tmp_path: Path,
) -> None:
    targets: dict[str, list[str]] = {}
    for u in range(USERS):
        issued = [await issue(fcm) for _ in range(TARGETS_PER_USER)]
        targets[f"user-{u}"] = [t.target for t in issued]
        await publish_tokens(producer, f"user-{u}", [entry(t) for t in issued])
    acks = []
    for n in range(NOTIFICATIONS):
        message = due(f"n-{n}", f"user-{n % USERS}")
        message.content.data["n"] = str(n)
        acks.append(await producer.send(topics.NOTIFICATIONS_DUE, message.user_id, message))
    await asyncio.gather(*acks)
    expected = {
        (str(n), target) for n in range(NOTIFICATIONS) for target in targets[f"user-{n % USERS}"]
    }
    log = tmp_path / "dispatcher.log"
    processes = []
    try:
        front = FcmFront(emulator.url, answer_first=ANSWERED_BEFORE_KILL, forward_held=reached_fcm)
        async with front:
            first = await start(dispatcher_env(namespace, front.url, account_file), log)
            processes.append(first)
            # Killed while every send it has in flight waits for an answer.
            deadline = time.monotonic() + 30
            while front.held < IN_FLIGHT:
                assert time.monotonic() < deadline, "the dispatcher did not fill its sends"
                await asyncio.sleep(0.05)
            first.send_signal(signal.SIGKILL)
            await first.wait()
        reached = ANSWERED_BEFORE_KILL + (IN_FLIGHT if reached_fcm else 0)
        assert len(await fcm.messages()) == reached < len(expected)

        second = await start(dispatcher_env(namespace, emulator.url, account_file), log)
        processes.append(second)
        group = namespace + "herald-dispatcher"
        due_topic = namespace + topics.NOTIFICATIONS_DUE.name
        deadline = time.monotonic() + 60
        while sum((await committed_offsets(bootstrap, group, due_topic)).values()) < NOTIFICATIONS:
            assert time.monotonic() < deadline, "the restarted dispatcher did not finish"
            await asyncio.sleep(0.2)
        second.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), 20) == 0
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()

    sent = [
        r
        for r in await reports(bootstrap, namespace, len(expected) + ANSWERED_BEFORE_KILL)
        if r.status == deliveries_pb2.DELIVERY_STATUS_SENT
    ]
    assert {(r.notification_id.removeprefix("n-"), r.target.value) for r in sent} == expected
    resent = {
        (r.notification_id.removeprefix("n-"), r.target.value)
        for r in sent
        if r.error_message == RESENT
    }
    assert len(resent) == IN_FLIGHT
    messages = await accepted(fcm)
    received = Counter((m.message["data"]["n"], m.target) for m in messages)
    assert set(received) == expected
    twice = {pair for pair, count in received.items() if count > 1}
    # Only a send in doubt went out again, and only if its first request had reached FCM.
    assert twice == (resent if reached_fcm else set())
    assert max(received.values()) <= 2
    for pair in twice:
        copies = [
            m.message["webpush"] for m in messages if (m.message["data"]["n"], m.target) == pair
        ]
        # Both carry the same replace tag: the device replaces the first with the second.
        assert len({(w["headers"]["Topic"], w["notification"]["tag"]) for w in copies}) == 1
