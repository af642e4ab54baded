"""Scheduler processes: killed with SIGKILL between take and publish, and two of them sharing
the consumer group through rebalances."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis
from scheduler.conftest import released, reminder, schedule
from scheduler.test_release import now_ms

from herald.producer import Producer
from herald_scheduler.settings import SchedulerSettings
from kit.kafka import eventually

STALLING = Path(__file__).with_name("stalling_scheduler.py")

Spawn = Callable[..., "asyncio.Future[asyncio.subprocess.Process]"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def processes(
    scheduler_settings: SchedulerSettings, redis: Redis
) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """Processes a test starts; each is killed at the end if still running."""
    started: list[asyncio.subprocess.Process] = []
    yield started
    for process in started:
        if process.returncode is None:
            process.kill()
            await process.wait()


def process_env(settings: SchedulerSettings, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "HERALD_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "HERALD_TOPIC_NAMESPACE": settings.topic_namespace,
        "HERALD_REDIS_URL": settings.redis_url.get_secret_value(),
        "HERALD_GROUP_ID": settings.group_id,
        "HERALD_HEALTH_PORT": str(port),
        "HERALD_LEASE_MS": str(settings.lease_ms),
        "HERALD_KAFKA_SESSION_TIMEOUT_MS": str(settings.kafka_session_timeout_ms),
        "HERALD_SHUTDOWN_GRACE_S": "5",
        "HERALD_LOG_LEVEL": "WARNING",
    }


async def spawn(
    started: list[asyncio.subprocess.Process], settings: SchedulerSettings, *args: str
) -> tuple[asyncio.subprocess.Process, int]:
    port = free_port()
    argv = args or ("-m", "herald_scheduler")
    process = await asyncio.create_subprocess_exec(
        sys.executable, *argv, env=process_env(settings, port)
    )
    started.append(process)
    return process, port


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


async def wait_ready(port: int) -> None:
    for _ in range(150):
        status, _ = await asyncio.to_thread(get, port, "/readyz")
        if status == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"scheduler on port {port} never became ready")


async def test_killed_between_take_and_publish_the_reminder_is_released_after_its_lease(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    scheduler_settings: SchedulerSettings,
    processes: list[asyncio.subprocess.Process],
    redis: Redis,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "taken"
    stalling, _ = await spawn(processes, scheduler_settings, str(STALLING), str(marker))
    fire_at = now_ms() + 2000
    await schedule(producer, reminder("crash", fire_at))
    await eventually(marker.exists, timeout_s=30)
    leased = [k async for k in redis.scan_iter(match=f"herald:scheduler:{{{namespace}*:lease")]
    assert sum([await redis.zcard(k) for k in leased]) == 1, "taken into in-flight"
    stalling.send_signal(signal.SIGKILL)
    await stalling.wait()

    successor, _ = await spawn(processes, scheduler_settings)
    dues = await released(bootstrap, namespace, 1, timeout_s=40)
    assert [d.notification.notification_id for d in dues] == [f"crash@{fire_at}"]
    assert dues[0].published_ms >= fire_at + scheduler_settings.lease_ms, "only after the lease"
    successor.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(successor.wait(), 20) == 0
    assert len(await released(bootstrap, namespace, 2, timeout_s=1.5)) == 1


async def test_two_processes_release_every_reminder_once_through_rebalances(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    scheduler_settings: SchedulerSettings,
    processes: list[asyncio.subprocess.Process],
) -> None:
    first, first_port = await spawn(processes, scheduler_settings)
    await wait_ready(first_port)
    start = now_ms()
    fire_at = {f"r{n}": start + 1000 + 10 * n for n in range(1200)}
    pending = list(fire_at.items())

    async def publish_for(seconds: float) -> None:
        deadline = now_ms() + seconds * 1000
        while pending and now_ms() < deadline:
            batch, pending[:] = pending[:40], pending[40:]
            await schedule(producer, *(reminder(rid, at) for rid, at in batch))
            await asyncio.sleep(0.1)

    await publish_for(2)
    _, second_port = await spawn(processes, scheduler_settings)
    await publish_for(2)
    await wait_ready(second_port)
    status, body = await asyncio.to_thread(get, first_port, "/metrics")
    assert status == 200
    assert "herald_scheduler_released_total" in body
    assert "herald_scheduler_lateness_seconds_bucket" in body
    assert (await asyncio.to_thread(get, first_port, "/healthz"))[0] == 200
    first.send_signal(signal.SIGTERM)
    await publish_for(30)
    assert await asyncio.wait_for(first.wait(), 20) == 0

    dues = await released(bootstrap, namespace, len(fire_at), timeout_s=40)
    counts = Counter(d.notification.reminder_id for d in dues)
    assert set(counts) == set(fire_at), "every reminder released"
    assert max(counts.values()) == 1, "none released twice"
    assert all(d.published_ms >= fire_at[d.notification.reminder_id] for d in dues)
    status, body = await asyncio.to_thread(get, second_port, "/readyz")
    assert status == 200
    assert json.loads(body)["checks"] == {"redis": "ok", "kafka": "ok"}
