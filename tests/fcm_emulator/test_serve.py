"""`fcm-emulator serve` as a process: the event loop it runs on, its listening queue, and a
setting's error."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from asyncio.subprocess import PIPE
from pathlib import Path

import aiohttp
import pytest

from fcm_emulator import service_account
from fcm_emulator.app import LISTEN_BACKLOG
from fcm_emulator.testing import HttpSender
from herald_dev.stack import free_port
from kit.sockets import listen_queue, somaxconn

PROJECT = "herald-serve"


async def listening_line(process: asyncio.subprocess.Process) -> dict[str, object]:
    """The JSON log line the emulator writes once it is about to listen."""
    assert process.stderr is not None
    async with asyncio.timeout(30):
        async for line in process.stderr:
            entry: dict[str, object] = json.loads(line)
            if entry.get("msg") == "listening":
                return entry
    raise AssertionError(f"the emulator exited ({await process.wait()}) before listening")


@pytest.mark.parametrize(("flags", "loop"), [([], "uvloop"), (["--event-loop=asyncio"], "asyncio")])
async def test_serve_runs_on_uvloop_unless_asked_for_asyncio_and_answers_sends(
    tmp_path: Path, flags: list[str], loop: str
) -> None:
    account = tmp_path / "account.json"
    command = [sys.executable, "-m", "fcm_emulator", "serve", "--quiet"]
    port = free_port()
    info = service_account.generate(PROJECT, f"http://127.0.0.1:{port}")
    service_account.write(account, info)
    process = await asyncio.create_subprocess_exec(
        *command, f"--port={port}", f"--service-account={account}", *flags, stderr=PIPE
    )
    try:
        assert (await listening_line(process))["event_loop"] == loop
        async with aiohttp.ClientSession() as session:
            sender = await HttpSender.for_account(session, f"http://127.0.0.1:{port}", info)
            status, body, _ = await sender.send(
                {"token": "cAbCdEfGhIjKlMnOpQrStU:APA91bServeTest", "data": {"n": "1"}}
            )
        assert status == 200, body
        assert body["name"].startswith(f"projects/{PROJECT}/messages/")
    finally:
        process.terminate()
        async with asyncio.timeout(10):
            assert await process.wait() == 0


def test_an_unknown_event_loop_from_the_environment_is_refused_with_the_choices() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fcm_emulator", "serve"],
        env={"FCM_EMULATOR_EVENT_LOOP": "trio", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "'trio' is not one of auto, uvloop, asyncio" in done.stderr


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_serve_queues_a_whole_pools_connections_opened_at_once() -> None:
    """A sender opens hundreds of pooled connections at once. Beyond the listening socket's
    queue the kernel drops their SYNs, and each such connection waits about a second for the
    retransmission (aiohttp's default queue is 128)."""
    port = free_port()
    command = [sys.executable, "-m", "fcm_emulator", "serve", "--quiet", f"--port={port}"]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while (queue := listen_queue(port)) is None:
            assert process.poll() is None, "the emulator exited"
            assert time.monotonic() < deadline, "the emulator is not listening after 15 s"
            time.sleep(0.05)
        if somaxconn() <= 128:
            pytest.skip(f"the kernel caps every listening queue at {somaxconn()}")
        assert queue == min(LISTEN_BACKLOG, somaxconn())
    finally:
        process.terminate()
        process.wait(timeout=10)
