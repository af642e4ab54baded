"""Child processes: started with their own environment and log file, waited for until their
health endpoint answers, stopped with SIGTERM (then SIGKILL) in the reverse order."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from herald_dev.progress import PartFailed

READY_POLL_S = 0.2
PROBE_TIMEOUT_S = 2.0


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    log: Path

    @property
    def running(self) -> bool:
        return self.process.returncode is None


async def run_once(name: str, argv: Sequence[str], env: Mapping[str, str], log: Path) -> None:
    """Run a command to its end, output to ``log``; PartFailed when it does not exit 0."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *argv, env=dict(env), stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out
        )
        code = await process.wait()
    if code != 0:
        raise PartFailed(name, f"exited with code {code}", log)


class Supervisor:
    """Owns the children it started; ``stop_all`` ends every one of them."""

    def __init__(self, grace_s: float = 25.0) -> None:
        self.grace_s = grace_s
        self.children: list[Child] = []

    async def start(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path
    ) -> Child:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            # A session of its own: Ctrl-C in the terminal reaches this process only, which
            # then stops the children in order.
            process = await asyncio.create_subprocess_exec(
                *argv,
                env=dict(env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        child = Child(name, process, log)
        self.children.append(child)
        return child

    async def wait_ready(self, child: Child, url: str, timeout_s: float) -> None:
        """Poll ``url`` until it answers 200; PartFailed when the child exits or time is up."""
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                if not child.running:
                    code = child.process.returncode
                    raise PartFailed(
                        child.name, f"exited with code {code} while starting", child.log
                    )
                try:
                    async with session.get(url) as response:
                        if response.status == 200:
                            return
                        last = f"{response.status} {(await response.text())[:200]}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    last = str(exc) or type(exc).__name__
                if time.monotonic() > deadline:
                    raise PartFailed(
                        child.name, f"not ready within {timeout_s:.0f} s ({url}: {last})", child.log
                    )
                await asyncio.sleep(READY_POLL_S)

    def named(self, name: str) -> Child:
        """The running child called ``name``; LookupError when there is none."""
        for child in self.children:
            if child.name == name:
                return child
        raise LookupError(f"no child named {name!r}")

    async def kill(self, child: Child) -> int:
        """SIGKILL the child's whole session at once, as a crash or the OOM killer would: no
        shutdown code of its own runs. It leaves the supervisor; returns its exit code."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signal.SIGKILL)
        await child.process.wait()
        self.children.remove(child)
        code = child.process.returncode
        return -1 if code is None else code

    async def stop(self, child: Child) -> int:
        """Stop one child as ``stop_all`` would (SIGTERM, SIGKILL after the grace period); it
        leaves the supervisor; returns its exit code."""
        code = await self._stop(child)
        self.children.remove(child)
        return code

    def stopped_by_themselves(self) -> list[Child]:
        return [c for c in self.children if not c.running]

    async def stop_all(self) -> list[tuple[str, int]]:
        """SIGTERM each child, last started first, SIGKILL after the grace period; returns
        (name, exit code) per child."""
        codes: list[tuple[str, int]] = []
        for child in reversed(self.children):
            codes.append((child.name, await self._stop(child)))
        self.children.clear()
        return codes

    async def _stop(self, child: Child) -> int:
        if child.running:
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(child.process.wait(), self.grace_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                await child.process.wait()
        code = child.process.returncode
        return -1 if code is None else code
