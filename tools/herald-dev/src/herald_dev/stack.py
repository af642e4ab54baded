"""Herald on one machine: topics, the database, the FCM emulator and the three services as
child processes, each with the ``HERALD_*`` environment it needs and a log file of its own."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped,unused-ignore]
from redis.asyncio import Redis

from fcm_emulator import service_account
from herald.topics_cli import apply
from herald_dev.credentials import DevCredentials
from herald_dev.layout import StateDirs
from herald_dev.processes import Child, Supervisor, run_once
from herald_dev.progress import PartFailed, Progress
from herald_dispatcher.keys import Keys

HOST = "127.0.0.1"
PROJECT_ID = "herald-dev"
DEFAULT_DATABASE_URL = "postgresql://herald:herald@127.0.0.1:54329/herald"
DEFAULT_REDIS_URL = "redis://127.0.0.1:63790"
DEFAULT_KAFKA = "127.0.0.1:19092"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def port_taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((HOST, port)) == 0


@dataclass(frozen=True)
class Ports:
    api: int = 8080
    emulator: int = 18080
    scheduler: int = 9401
    dispatcher: int = 9402
    demo: int = 8088

    @classmethod
    def free(cls) -> Ports:
        return cls(free_port(), free_port(), free_port(), free_port(), free_port())


@dataclass(frozen=True)
class StackConfig:
    state: StateDirs
    ports: Ports = field(default_factory=Ports)
    namespace: str = ""
    kafka_bootstrap: str = DEFAULT_KAFKA
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = DEFAULT_REDIS_URL
    scheduler_redis_db: int = 0
    dispatcher_redis_db: int = 0
    project_id: str = PROJECT_ID
    ready_timeout_s: float = 60.0
    # The emulator's access log (a line per request in its log file; about 45 µs of its CPU
    # per send, so benchmarks leave it off).
    emulator_log_requests: bool = True

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.ports.api}"

    @property
    def emulator_url(self) -> str:
        return f"http://{HOST}:{self.ports.emulator}"

    @property
    def demo_url(self) -> str:
        return f"http://{HOST}:{self.ports.demo}"

    @property
    def scheduler_redis_url(self) -> str:
        return f"{self.redis_url}/{self.scheduler_redis_db}"

    @property
    def dispatcher_redis_url(self) -> str:
        return f"{self.redis_url}/{self.dispatcher_redis_db}"

    @property
    def service_account_path(self) -> Path:
        return self.state.fcm_keys / f"{self.project_id}.json"

    def with_database(self, name: str) -> StackConfig:
        parts = urlsplit(self.database_url)
        return replace(self, database_url=urlunsplit(parts._replace(path=f"/{name}")))


def _base_env(config: StackConfig) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HERALD_", "FCM_EMULATOR_"))}
    env.update(
        HERALD_KAFKA_BOOTSTRAP=config.kafka_bootstrap,
        HERALD_TOPIC_NAMESPACE=config.namespace,
        HERALD_HEALTH_HOST=HOST,
        PYTHONUNBUFFERED="1",
    )
    return env


def token_api_env(config: StackConfig, credentials: DevCredentials) -> dict[str, str]:
    origins = [f"http://{host}:{config.ports.demo}" for host in (HOST, "localhost")]
    return _base_env(config) | {
        "HERALD_HTTP_HOST": HOST,
        "HERALD_HTTP_PORT": str(config.ports.api),
        "HERALD_DATABASE_URL": config.database_url,
        "HERALD_MIGRATE_ON_START": "false",
        "HERALD_JWT_HS256_SECRET": credentials.jwt_secret,
        "HERALD_JWT_ISSUER": credentials.issuer,
        "HERALD_JWT_AUDIENCE": credentials.audience,
        "HERALD_SERVICE_API_KEYS": credentials.service_key,
        "HERALD_CORS_ORIGINS": ",".join(origins),
        "HERALD_RELAY_POLL_INTERVAL_S": "1",
    }


def scheduler_env(config: StackConfig) -> dict[str, str]:
    return _base_env(config) | {
        "HERALD_REDIS_URL": config.scheduler_redis_url,
        "HERALD_HEALTH_PORT": str(config.ports.scheduler),
        # The scheduler does not put the topic namespace in front of its group by itself.
        "HERALD_GROUP_ID": f"{config.namespace}herald-scheduler",
    }


def dispatcher_env(config: StackConfig) -> dict[str, str]:
    return _base_env(config) | {
        "HERALD_REDIS_URL": config.dispatcher_redis_url,
        "HERALD_HEALTH_PORT": str(config.ports.dispatcher),
        "HERALD_FCM_BASE_URL": config.emulator_url,
        "HERALD_FCM_CREDENTIALS": f"{config.project_id}={config.service_account_path}",
    }


def emulator_argv(config: StackConfig) -> list[str]:
    return [
        sys.executable,
        "-m",
        "fcm_emulator",
        "serve",
        "--host",
        HOST,
        "--port",
        str(config.ports.emulator),
        "--service-accounts-dir",
        str(config.state.fcm_keys),
        "--log-requests" if config.emulator_log_requests else "--quiet",
    ]


async def drop_database(url: str) -> None:
    """Drop the database ``url`` names, closing its connections (a test's or benchmark's)."""
    parts = urlsplit(url)
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')
    finally:
        await admin.close()


async def ensure_database(url: str) -> bool:
    """Create the database ``url`` names when it does not exist; True when it was created."""
    try:
        connection = await asyncpg.connect(url)
    except asyncpg.InvalidCatalogNameError:
        parts = urlsplit(url)
        name = parts.path.lstrip("/")
        admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        return True
    await connection.close()
    return False


def write_service_account(config: StackConfig) -> bool:
    """A service-account file the emulator trusts, for the dispatcher; written again when the
    one there points at another emulator address. True when it was (re)written."""
    path = config.service_account_path
    token_uri = f"{config.emulator_url}/token"
    if path.is_file() and json.loads(path.read_text()).get("token_uri") == token_uri:
        return False
    service_account.write(path, service_account.generate(config.project_id, config.emulator_url))
    return True


PART_NAMES = ("fcm-emulator", "token-api", "scheduler", "dispatcher")


@dataclass(frozen=True)
class Part:
    """One child process of the stack: its command, environment and readiness URL."""

    name: str
    argv: list[str]
    env: dict[str, str]
    ready_url: str
    what: str


class Stack:
    """Prepares and starts everything above the infrastructure; ``stop`` ends what it started."""

    def __init__(self, config: StackConfig, progress: Progress | None = None) -> None:
        self.config = config
        self.progress = progress or Progress()
        self.supervisor = Supervisor()
        self.credentials, self.new_credentials = DevCredentials.load_or_create(
            config.state.credentials
        )

    def check_ports(self) -> None:
        ports = self.config.ports
        owners = {
            "fcm-emulator": ports.emulator,
            "token-api": ports.api,
            "scheduler": ports.scheduler,
            "dispatcher": ports.dispatcher,
            "demo page": ports.demo,
        }
        for part, port in owners.items():
            if port_taken(port):
                raise PartFailed(
                    part,
                    f"port {port} on {HOST} is already in use "
                    "(another 'make run' or a service started by hand?)",
                )

    async def __aenter__(self) -> Stack:
        """Prepare and start; leaving the block stops what was started, also on failure."""
        try:
            await self.prepare()
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_projected(self, users: Sequence[str], timeout_s: float) -> None:
        """Until the dispatcher's Redis projection holds a token set for each of ``users``
        (the token-api's relay publishes them, the dispatcher projects them): before that a
        due notification would find no target."""
        config = self.config
        keys = [Keys(config.namespace).targets(u) for u in users]
        redis = Redis.from_url(config.dispatcher_redis_url)
        deadline = time.monotonic() + timeout_s
        try:
            while (found := await redis.exists(*keys)) < len(keys):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{found} of {len(keys)} users projected in {timeout_s} s")
                await asyncio.sleep(0.2)
        finally:
            await redis.aclose()

    async def prepare(self) -> None:
        config = self.config
        fresh = "new" if self.new_credentials else "kept"
        self.progress.say(f"  ✓ development credentials: {config.state.credentials} ({fresh})")
        with self.progress.step(f"Kafka topics (namespace {config.namespace or '(none)'})"):
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    await apply(config.kafka_bootstrap, namespace=config.namespace)
            except Exception as exc:
                raise PartFailed("kafka", f"creating the topics failed: {exc}") from exc
        database = urlsplit(config.database_url).path.lstrip("/")
        with self.progress.step(f"PostgreSQL database {database} and its migrations"):
            try:
                if await ensure_database(config.database_url):
                    self.progress.say(f"      created database {database}")
            except (OSError, asyncpg.PostgresError) as exc:
                raise PartFailed("postgres", f"cannot reach or create the database: {exc}") from exc
            await run_once(
                "token-api migrate",
                [sys.executable, "-m", "herald_token_api", "migrate"],
                token_api_env(config, self.credentials),
                config.state.log("token-api-migrate"),
            )
        with self.progress.step(f"FCM service account for {config.project_id}"):
            if write_service_account(config):
                self.progress.say(f"      wrote {config.service_account_path}")

    def part(self, name: str, health_port: int | None = None) -> Part:
        """How to run one of the four parts; ``health_port`` moves a service's health server
        (a second instance of the scheduler or the dispatcher needs a port of its own)."""
        config = self.config
        if name == "fcm-emulator":
            return Part(
                name,
                emulator_argv(config),
                _base_env(config),
                f"{config.emulator_url}/healthz",
                f"FCM emulator on {config.emulator_url}",
            )
        if name == "token-api":
            return Part(
                name,
                [sys.executable, "-m", "herald_token_api", "serve"],
                token_api_env(config, self.credentials),
                f"{config.api_url}/readyz",
                f"token-api on {config.api_url}",
            )
        services = {
            "scheduler": ("herald_scheduler", config.ports.scheduler, scheduler_env(config)),
            "dispatcher": ("herald_dispatcher", config.ports.dispatcher, dispatcher_env(config)),
        }
        if name not in services:
            raise LookupError(f"no part named {name!r}")
        module, port, env = services[name]
        port = port if health_port is None else health_port
        return Part(
            name,
            [sys.executable, "-m", module],
            env | {"HERALD_HEALTH_PORT": str(port)},
            f"http://{HOST}:{port}/readyz",
            f"{name} (health on {HOST}:{port})",
        )

    async def start(self) -> None:
        """Start the emulator and the three services together, then wait for each in turn."""
        config = self.config
        parts = [self.part(name) for name in PART_NAMES]
        children = [
            await self.supervisor.start(p.name, p.argv, p.env, config.state.log(p.name))
            for p in parts
        ]
        for child, part in zip(children, parts, strict=True):
            with self.progress.step(part.what):
                await self.supervisor.wait_ready(child, part.ready_url, config.ready_timeout_s)

    async def start_part(
        self, name: str, *, instance: str | None = None, health_port: int | None = None
    ) -> Child:
        """Start one part (again, after ``kill_part``, or as another ``instance`` of it, with a
        log of its own) and wait until it is ready."""
        part = self.part(name, health_port)
        child_name = instance or name
        log = self.config.state.log(child_name)
        restarts = 0
        while log.exists():  # keep the log of the run before (a crash is why we are here)
            restarts += 1
            log = self.config.state.log(f"{child_name}.{restarts}")
        child = await self.supervisor.start(child_name, part.argv, part.env, log)
        await self.supervisor.wait_ready(child, part.ready_url, self.config.ready_timeout_s)
        return child

    async def kill_part(self, name: str) -> int:
        """SIGKILL the running child called ``name`` (a part or an instance); its exit code."""
        return await self.supervisor.kill(self.supervisor.named(name))

    async def stop_part(self, name: str) -> int:
        """SIGTERM the running child called ``name`` and wait for it to exit; its exit code."""
        return await self.supervisor.stop(self.supervisor.named(name))

    def check_alive(self) -> None:
        """PartFailed naming the first child that stopped by itself."""
        for child in self.supervisor.stopped_by_themselves():
            code = child.process.returncode
            raise PartFailed(child.name, f"stopped by itself (exit code {code})", child.log)

    async def stop(self) -> list[tuple[str, int]]:
        return await self.supervisor.stop_all()
