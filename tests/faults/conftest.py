"""The fault suite's session: private Kafka, Redis and PostgreSQL (``infra.sh`` under a
temporary state folder, on free ports), the whole stack on top of them, a registered population,
and the report, printed when the session ends."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from faults.infra import InfraPorts, PrivateInfra
from faults.load import Population, register
from faults.report import Report, report_path
from faults.scenario import Harness

from fcm_emulator.client import EmulatorClient
from herald.producer import Producer
from herald_dev.api import TokenApi
from herald_dev.layout import StateDirs
from herald_dev.stack import Ports, Stack, StackConfig

USERS = 500
TARGETS_PER_USER = 2
PROJECTION_TIMEOUT_S = 60.0
KEEP_LOGS = 3
LOAD_SUMMARY = (
    f"{USERS} users with {TARGETS_PER_USER} web targets each ({USERS * TARGETS_PER_USER} "
    "targets), registered through the token-api; one reminder per user (published to "
    "herald.reminders.v1, fire times spread evenly over 12 s starting 2 s after publication, "
    "every 10th expiring 8 s after its fire time, the rest after 10 min) and send-now requests "
    "(token-api, 4 a second for 14 s, users in turn); the fault starts 6 s in."
)
_finished: list[str] = []


def logs_folder() -> Path:
    """``.herald/faults/logs/<start time>``: the processes' logs, kept after the run (the last
    KEEP_LOGS runs) to read what a service said when a scenario failed."""
    parent = report_path().parent / "logs"
    parent.mkdir(parents=True, exist_ok=True)
    for old in sorted(parent.iterdir())[: -KEEP_LOGS + 1]:
        shutil.rmtree(old, ignore_errors=True)
    folder = parent / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    folder.mkdir()
    return folder


@pytest.fixture(scope="session")
async def infra() -> AsyncIterator[PrivateInfra]:
    """Data of the private Kafka, Redis and PostgreSQL in a temporary folder, removed at the
    end (its infra.sh logs are copied next to the processes' logs first)."""
    state = Path(tempfile.mkdtemp(prefix="herald-faults-"))
    private = PrivateInfra(state, InfraPorts.free())
    private.seed_kafka_jars()
    try:
        await private.up()
        yield private
    finally:
        await private.down()
        keep_infra_logs(state)
        shutil.rmtree(state, ignore_errors=True)


def keep_infra_logs(state: Path) -> None:
    logs = report_path().parent / "logs"
    latest = max(logs.iterdir(), default=None) if logs.is_dir() else None
    if latest is not None:
        for log in state.glob("*.log"):
            shutil.copy(log, latest / "logs" / f"infra-{log.name}")


@pytest.fixture(scope="session")
async def stack(infra: PrivateInfra) -> AsyncIterator[Stack]:
    config = StackConfig(
        state=StateDirs(logs_folder()),
        ports=Ports.free(),
        kafka_bootstrap=infra.kafka_bootstrap,
        database_url=infra.database_url,
        redis_url=infra.redis_url,
    )
    async with Stack(config) as running:
        yield running


@pytest.fixture(scope="session")
async def harness(stack: Stack, infra: PrivateInfra) -> AsyncIterator[Harness]:
    config = stack.config
    report = Report(LOAD_SUMMARY)
    async with (
        EmulatorClient(config.emulator_url) as emulator,
        TokenApi(config.api_url, service_key=stack.credentials.service_key) as api,
        Producer(config.kafka_bootstrap, namespace=config.namespace, client_id="faults") as p,
    ):
        wanted = Population.fresh("fault-user", USERS, TARGETS_PER_USER)
        population = await register(api, stack.credentials, wanted, config.project_id)
        assert population == wanted, "the token-api did not acknowledge every registration"
        await stack.wait_projected(population.users, PROJECTION_TIMEOUT_S)
        yield Harness(stack, infra, emulator, api, p, population, report)
    if report.rows:
        _finished.append(f"{report.markdown()}\nwritten to {report.write()}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _finished:
        terminalreporter.section("fault suite")
        for text in _finished:
            terminalreporter.write_line(text)
