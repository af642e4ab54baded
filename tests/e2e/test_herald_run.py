"""``herald-run --once`` (what ``make run`` runs, bounded): from an empty namespace, database and
state folder to a notification at the emulator, then everything it started stopped."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import pytest
from e2e.support import DISPATCHER_REDIS_DB, SCHEDULER_REDIS_DB

from herald_dev.stack import DEFAULT_DATABASE_URL, HOST, Ports, port_taken
from kit.kafka import delete_namespace

RUN_TIMEOUT_S = 100


@dataclass(frozen=True)
class Fresh:
    namespace: str
    database: str
    state: Path
    ports: Ports

    def argv(self) -> list[str]:
        return [
            str(Path(sys.executable).parent / "herald-run"),
            "--once",
            f"--namespace={self.namespace}",
            f"--database={self.database}",
            f"--state-dir={self.state}",
            f"--scheduler-redis-db={SCHEDULER_REDIS_DB}",
            f"--dispatcher-redis-db={DISPATCHER_REDIS_DB}",
            f"--api-port={self.ports.api}",
            f"--emulator-port={self.ports.emulator}",
            f"--scheduler-port={self.ports.scheduler}",
            f"--dispatcher-port={self.ports.dispatcher}",
            f"--demo-port={self.ports.demo}",
            "--scenario-delay-s=3",
        ]


@pytest.fixture
async def fresh(bootstrap: str, tmp_path: Path) -> AsyncIterator[Fresh]:
    """Names nothing exists under yet; whatever herald-run creates there is removed after."""
    suffix = uuid.uuid4().hex[:10]
    yield Fresh(f"run-{suffix}.", f"herald_run_{suffix}", tmp_path / "state", Ports.free())
    admin = await asyncpg.connect(DEFAULT_DATABASE_URL.rsplit("/", 1)[0] + "/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "herald_run_{suffix}" WITH (FORCE)')
    finally:
        await admin.close()
    await delete_namespace(bootstrap, f"run-{suffix}.")


async def herald_run(argv: list[str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_herald_run_once_shows_a_notification_arriving_and_stops_everything(
    fresh: Fresh,
) -> None:
    code, output = await herald_run(fresh.argv())
    assert code == 0, output
    assert "the notification arrived at" in output
    assert " ms late" in output
    assert f"Demo page: http://{HOST}:{fresh.ports.demo}/" in output
    assert "stopped: dispatcher (0), scheduler (0), token-api (0), fcm-emulator (0)" in output
    for name in ("fcm-emulator", "token-api", "scheduler", "dispatcher", "infra"):
        assert (fresh.state / "logs" / f"{name}.log").is_file()
    assert (fresh.state / "dev" / "credentials.json").stat().st_mode & 0o077 == 0
    for port in (
        fresh.ports.api,
        fresh.ports.emulator,
        fresh.ports.scheduler,
        fresh.ports.dispatcher,
        fresh.ports.demo,
    ):
        assert not port_taken(port)


async def test_herald_run_names_the_part_that_cannot_start(fresh: Fresh) -> None:
    with socket.socket() as squatter:
        squatter.bind((HOST, fresh.ports.api))
        squatter.listen()
        code, output = await herald_run(fresh.argv())
    assert code == 1
    assert f"✗ token-api failed: port {fresh.ports.api} on {HOST} is already in use" in output
