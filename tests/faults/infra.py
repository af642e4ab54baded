"""Kafka, Redis and PostgreSQL of the fault suite's own: ``deploy/local/infra.sh`` run with a
temporary state folder and free ports, so scenarios can stop and restart them without touching
the shared infrastructure on the default ports that other tests use."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from herald_dev.layout import INFRA_SCRIPT, find_root
from herald_dev.stack import free_port

COMPONENTS = ("postgres", "redis", "kafka")
# A stop or start of one component (Kafka's JVM start dominates); infra.sh waits for readiness.
COMMAND_TIMEOUT_S = 150.0
DEFAULT_PORTS = {19092, 19093, 63790, 54329}


@dataclass(frozen=True)
class InfraPorts:
    kafka: int
    kafka_controller: int
    redis: int
    postgres: int

    @classmethod
    def free(cls) -> InfraPorts:
        while True:
            ports = cls(free_port(), free_port(), free_port(), free_port())
            chosen = {ports.kafka, ports.kafka_controller, ports.redis, ports.postgres}
            if len(chosen) == 4 and not chosen & DEFAULT_PORTS:
                return ports


class InfraError(RuntimeError):
    pass


class PrivateInfra:
    """``up()`` starts all three, ``down()`` stops them; ``restart(component)`` stops and starts
    one (``infra.sh down|up <component>``), timed."""

    def __init__(self, state: Path, ports: InfraPorts) -> None:
        self.state = state
        self.ports = ports
        self.root = find_root(Path(__file__).parent)

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports.kafka}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports.redis}"

    @property
    def database_url(self) -> str:
        return f"postgresql://herald:herald@127.0.0.1:{self.ports.postgres}/herald"

    def env(self) -> dict[str, str]:
        # native: never the Docker Compose project, which would be the shared infrastructure.
        return os.environ | {
            "HERALD_INFRA": "native",
            "HERALD_STATE_DIR": str(self.state),
            "HERALD_KAFKA_PORT": str(self.ports.kafka),
            "HERALD_KAFKA_CONTROLLER_PORT": str(self.ports.kafka_controller),
            "HERALD_REDIS_PORT": str(self.ports.redis),
            "HERALD_PG_PORT": str(self.ports.postgres),
            # Test data: durability across a machine crash is not what the suite checks.
            "HERALD_PG_FSYNC": "off",
        }

    def seed_kafka_jars(self) -> None:
        """Copy Kafka's jars from the checkout's own state (same pom stamp) when it has them,
        so the private broker starts without a Maven run."""
        shared = self.root / ".herald" / "kafka" / "libs"
        mine = self.state / "kafka" / "libs"
        if (shared / ".stamp").is_file() and not mine.exists():
            shutil.copytree(shared, mine)

    async def run(self, command: str, *components: str) -> float:
        """Run ``infra.sh command components``; seconds it took; InfraError on failure."""
        started = time.monotonic()
        log = self.state / "infra-commands.log"
        with log.open("ab") as out:
            out.write(f"--- infra.sh {command} {' '.join(components)}\n".encode())
            out.flush()
            process = await asyncio.create_subprocess_exec(
                str(self.root / INFRA_SCRIPT),
                command,
                *components,
                env=self.env(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
            try:
                code = await asyncio.wait_for(process.wait(), COMMAND_TIMEOUT_S)
            except TimeoutError:
                process.kill()
                await process.wait()
                raise InfraError(f"infra.sh {command} took over {COMMAND_TIMEOUT_S} s") from None
        if code != 0:
            raise InfraError(f"infra.sh {command} {' '.join(components)} failed; see {log}")
        return time.monotonic() - started

    async def up(self, *components: str) -> float:
        return await self.run("up", *components)

    async def down(self, *components: str) -> float:
        return await self.run("down", *components)
