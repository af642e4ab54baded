"""The scripted scenario ``herald-run`` plays in the terminal: a browser's target registered,
a reminder scheduled a few seconds out, its arrival at the browser awaited and timed."""

from __future__ import annotations

import contextlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fcm_emulator.client import EmulatorClient, EmulatorError
from herald import topics
from herald.logs import mask
from herald.v1 import deliveries_pb2
from herald_dev.api import ApiError, TokenApi
from herald_dev.kafka_read import read_range
from herald_dev.progress import PartFailed, Progress
from herald_dev.stack import Stack

ARRIVAL_GRACE_S = 25.0


@dataclass(frozen=True)
class Arrival:
    reminder_id: str
    due_at: datetime
    arrived_at: datetime

    @property
    def lateness_s(self) -> float:
        return (self.arrived_at - self.due_at).total_seconds()


def clock(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M:%S.%f")[:-3]


async def run_scenario(stack: Stack, progress: Progress, delay_s: float = 5.0) -> Arrival:
    """Raises PartFailed naming the part that let the scenario down."""
    config = stack.config
    credentials = stack.credentials
    user_id = f"scenario-{secrets.token_hex(4)}"
    user_jwt = credentials.user_jwt(user_id)
    token_api_log = config.state.log("token-api")
    async with contextlib.AsyncExitStack() as resources:
        emulator = await resources.enter_async_context(EmulatorClient(config.emulator_url))
        api = await resources.enter_async_context(
            TokenApi(config.api_url, service_key=credentials.service_key)
        )
        with progress.step("a browser gets a target from the FCM emulator and listens for it"):
            try:
                issued = await emulator.issue_target(config.project_id)
                browser = await resources.enter_async_context(emulator.stream(issued.target))
            except (EmulatorError, OSError) as exc:
                raise PartFailed(
                    "fcm-emulator", str(exc), config.state.log("fcm-emulator")
                ) from exc
        target = issued.target
        resources.push_async_callback(_clean_up, api, emulator, user_jwt, target)
        with progress.step(f"it registers {mask(target, 4)} with the token-api as {user_id}"):
            try:
                await api.register(user_jwt, target, project_id=config.project_id)
            except (ApiError, OSError) as exc:
                raise PartFailed("token-api", str(exc), token_api_log) from exc
        started_ms = int(time.time() * 1000)
        due_at = datetime.now(UTC) + timedelta(seconds=delay_s)
        with progress.step(f"a product service schedules a reminder for {clock(due_at)}"):
            content = {
                "title": "Herald works",
                "body": f"This reminder was due at {clock(due_at)}",
                "data": {"source": "herald-run"},
            }
            try:
                reminder_id = await api.schedule(
                    user_id, content, due_at, due_at + timedelta(hours=1)
                )
            except (ApiError, OSError) as exc:
                raise PartFailed("token-api", str(exc), token_api_log) from exc
        with progress.step("the browser waits for it"):
            try:
                await browser.receive(timeout_s=delay_s + ARRIVAL_GRACE_S)
            except TimeoutError:
                raise await _diagnose(stack, emulator, target, user_id, started_ms) from None
            arrived_at = datetime.now(UTC)
    arrival = Arrival(reminder_id, due_at, arrived_at)
    progress.say(
        f"  ✓ the notification arrived at {clock(arrived_at)}, due {clock(due_at)}: "
        f"{arrival.lateness_s * 1000:.0f} ms late"
    )
    return arrival


async def _clean_up(api: TokenApi, emulator: EmulatorClient, user_jwt: str, target: str) -> None:
    """The scenario's user leaves no target behind."""
    with contextlib.suppress(ApiError, OSError):
        await api.unregister(user_jwt, target)
    with contextlib.suppress(EmulatorError, OSError):
        await emulator.delete_target(target)


async def _diagnose(
    stack: Stack, emulator: EmulatorClient, target: str, user_id: str, since_ms: int
) -> PartFailed:
    """Which part held the reminder back."""
    state = stack.config.state
    try:
        stack.check_alive()
    except PartFailed as stopped:
        return stopped
    sends = await emulator.messages(target=target)
    if sends:
        last = sends[-1]
        if last.error_code:
            return PartFailed(
                "dispatcher",
                f"the FCM emulator answered {last.status} {last.error_code} to its send",
                state.log("dispatcher"),
            )
        return PartFailed(
            "fcm-emulator",
            "it accepted the send but did not deliver it on the browser's stream",
            state.log("fcm-emulator"),
        )
    namespace = stack.config.namespace
    bootstrap = stack.config.kafka_bootstrap
    reports = await read_range(bootstrap, namespace + topics.DELIVERIES.name, since_ms)
    for record in reports:
        if record.value is None:
            continue
        report = deliveries_pb2.DeliveryReport.FromString(record.value)
        if report.user_id == user_id:
            status = deliveries_pb2.DeliveryStatus.Name(report.status)
            if report.status == deliveries_pb2.DELIVERY_STATUS_NO_TARGETS:
                return PartFailed(
                    "token-api",
                    "the dispatcher found no target for the user: the token set did not reach "
                    "it (outbox relay)",
                    state.log("token-api"),
                )
            return PartFailed(
                "dispatcher",
                f"it reported {status} {report.error_message}",
                state.log("dispatcher"),
            )
    due = await read_range(bootstrap, namespace + topics.NOTIFICATIONS_DUE.name, since_ms)
    if any(r.key == user_id.encode() for r in due):
        return PartFailed(
            "dispatcher", "the reminder became due but nothing was sent", state.log("dispatcher")
        )
    return PartFailed(
        "scheduler", "the reminder never became due (no NotificationDue)", state.log("scheduler")
    )
