"""FCM's answers and what the dispatcher makes of them: invalidations, retries, dead letters."""

from __future__ import annotations

import time

from dispatcher.conftest import StartDispatcher
from dispatcher.support import (
    FcmFront,
    accepted,
    due,
    entry,
    issue,
    publish_due,
    publish_tokens,
    reports,
    seed_failing_first,
)

from fcm_emulator.client import EmulatorClient
from fcm_emulator.errors import FcmErrorCode
from fcm_emulator.faults import FaultConfig
from fcm_emulator.testing import RunningEmulator
from herald import topics
from herald.producer import Producer
from herald.v1 import deliveries_pb2, reminders_pb2, tokens_pb2
from kit.kafka import read_topic


async def invalidations(
    bootstrap: str, namespace: str, count: int, timeout_s: float = 20.0
) -> list[tokens_pb2.TokenInvalidated]:
    found = []
    for raw in await read_topic(
        bootstrap, namespace + topics.TOKENS_INVALIDATED.name, count, timeout_s
    ):
        message = tokens_pb2.TokenInvalidated()
        message.ParseFromString(raw.value)
        found.append(message)
    return found


async def test_unregistered_target_is_invalidated_and_later_sends_skip_it(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    start_dispatcher: StartDispatcher,
) -> None:
    live, dead = await issue(fcm), await issue(fcm)
    await fcm.unregister_target(dead.target)
    await publish_tokens(producer, "dee", [entry(live), entry(dead)], version=1)
    await start_dispatcher()
    await publish_due(producer, due("n-1", "dee"))

    (invalidated,) = await invalidations(bootstrap, namespace, 1)
    assert invalidated.user_id == "dee"
    assert invalidated.target.value == dead.target
    assert invalidated.reason == tokens_pb2.INVALIDATION_REASON_UNREGISTERED
    assert invalidated.HasField("observed_at")
    first = await reports(bootstrap, namespace, 2)
    by_target = {r.target.value: r for r in first}
    assert by_target[dead.target].status == deliveries_pb2.DELIVERY_STATUS_INVALID_TARGET
    assert by_target[dead.target].error_code == deliveries_pb2.FCM_ERROR_CODE_UNREGISTERED
    assert by_target[live.target].status == deliveries_pb2.DELIVERY_STATUS_SENT

    # The token-api deletes the row and publishes the user's set without it.
    await publish_tokens(producer, "dee", [entry(live)], version=2)
    await publish_due(producer, due("n-2", "dee"))

    later = [r for r in await reports(bootstrap, namespace, 3) if r.notification_id == "n-2"]
    assert [(r.target.value, r.status) for r in later] == [
        (live.target, deliveries_pb2.DELIVERY_STATUS_SENT)
    ]
    assert len(await fcm.messages(target=dead.target)) == 1
    assert len(await accepted(fcm, live.target)) == 2


async def test_a_target_of_another_project_is_invalidated_as_sender_id_mismatch(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    start_dispatcher: StartDispatcher,
) -> None:
    foreign = await fcm.issue_target("someone-elses-project")
    target = entry(await issue(fcm))
    target.target.value = foreign.target
    await publish_tokens(producer, "eve", [target])
    await start_dispatcher()
    await publish_due(producer, due("n-foreign", "eve"))

    (invalidated,) = await invalidations(bootstrap, namespace, 1)
    (report,) = await reports(bootstrap, namespace, 1)

    assert invalidated.reason == tokens_pb2.INVALIDATION_REASON_SENDER_ID_MISMATCH
    assert report.status == deliveries_pb2.DELIVERY_STATUS_INVALID_TARGET
    assert report.attempts == 1
    assert len(await fcm.messages()) == 1


async def test_unavailable_twice_then_delivered_on_the_third_attempt(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    start_dispatcher: StartDispatcher,
) -> None:
    browser = await issue(fcm)
    await publish_tokens(producer, "fay", [entry(browser)])
    await start_dispatcher()
    seed = seed_failing_first(2)
    await fcm.set_faults(FaultConfig(seed=seed, error_rates={FcmErrorCode.UNAVAILABLE: 0.5}))
    await publish_due(producer, due("n-flaky", "fay"))

    (report,) = await reports(bootstrap, namespace, 1)

    assert report.status == deliveries_pb2.DELIVERY_STATUS_SENT
    assert report.attempts == 3
    statuses = [m.status for m in await fcm.messages(target=browser.target)]
    assert statuses == [503, 503, 200]


async def test_quota_exceeded_with_retry_after_2_is_not_retried_before_2_seconds(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    emulator: RunningEmulator,
    start_dispatcher: StartDispatcher,
) -> None:
    browser = await issue(fcm)
    await publish_tokens(producer, "gus", [entry(browser)])
    async with FcmFront(emulator.url, refusals=1, retry_after_s=2) as front:
        await start_dispatcher(fcm_base_url=front.url)
        await publish_due(producer, due("n-quota", "gus"))

        (report,) = await reports(bootstrap, namespace, 1)

    assert report.status == deliveries_pb2.DELIVERY_STATUS_SENT
    assert report.attempts == 2
    (refused_at, refused), (delivered_at, delivered) = front.answers
    assert (refused, delivered) == (429, 200)
    assert delivered_at - refused_at >= 2.0
    assert len(await accepted(fcm, browser.target)) == 1


async def test_a_long_retry_goes_back_through_the_scheduler(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    start_dispatcher: StartDispatcher,
) -> None:
    browser = await issue(fcm)
    await publish_tokens(producer, "hal", [entry(browser)])
    await start_dispatcher()
    await fcm.set_faults(FaultConfig(error_rates={FcmErrorCode.UNAVAILABLE: 1.0}, retry_after_s=30))
    message = due("n-later", "hal", collapse_key="tea")
    message.expires_at.FromMilliseconds(int(time.time() * 1000) + 3_600_000)
    started_ms = int(time.time() * 1000)
    await publish_due(producer, message)

    (report,) = await reports(bootstrap, namespace, 1)
    (raw,) = await read_topic(bootstrap, namespace + topics.REMINDERS.name, 1)

    assert report.status == deliveries_pb2.DELIVERY_STATUS_RETRY_SCHEDULED
    assert report.error_code == deliveries_pb2.FCM_ERROR_CODE_UNAVAILABLE
    reminder = reminders_pb2.ReminderScheduled()
    reminder.ParseFromString(raw.value)
    assert raw.key.decode() == reminder.reminder_id
    assert reminder.retry.notification_id == "n-later"
    assert reminder.retry.attempts == 1
    assert [t.value for t in reminder.retry.targets] == [browser.target]
    assert reminder.user_id == "hal"
    assert reminder.collapse_key == "tea"
    assert reminder.content.title == "Tea is ready"
    assert reminder.expires_at == message.expires_at
    assert reminder.retry.occurrence_at == message.occurrence_at
    assert 30_000 <= reminder.fire_at.ToMilliseconds() - started_ms <= 40_000
    assert len(await fcm.messages()) == 1


async def test_a_spent_retry_budget_dead_letters_the_delivery(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    start_dispatcher: StartDispatcher,
) -> None:
    browser = await issue(fcm)
    await publish_tokens(producer, "ida", [entry(browser)])
    await start_dispatcher(max_attempts=3)
    await fcm.set_faults(FaultConfig(error_rates={FcmErrorCode.INTERNAL: 1.0}))
    await publish_due(producer, due("n-doomed", "ida"))

    (report,) = await reports(bootstrap, namespace, 1)
    (dead,) = await read_topic(bootstrap, namespace + topics.DLQ.name, 1)

    assert report.status == deliveries_pb2.DELIVERY_STATUS_DEAD_LETTERED
    assert report.attempts == 3
    assert report.error_code == deliveries_pb2.FCM_ERROR_CODE_INTERNAL
    headers = {k: bytes(v).decode() for k, v in dead.headers}
    assert headers[topics.HEADER_DLQ_REASON] == "retry-budget-spent"
    assert headers[topics.HEADER_DLQ_TOPIC] == namespace + topics.NOTIFICATIONS_DUE.name
    assert len(await fcm.messages(target=browser.target)) == 3


async def test_third_party_auth_error_is_a_configuration_problem_not_a_dead_target(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    start_dispatcher: StartDispatcher,
) -> None:
    browser = await issue(fcm)
    await publish_tokens(producer, "jo", [entry(browser)])
    await start_dispatcher()
    await fcm.set_faults(FaultConfig(error_rates={FcmErrorCode.THIRD_PARTY_AUTH_ERROR: 1.0}))
    await publish_due(producer, due("n-auth", "jo"))

    (report,) = await reports(bootstrap, namespace, 1)

    assert report.status == deliveries_pb2.DELIVERY_STATUS_AUTH_ERROR
    assert report.error_code == deliveries_pb2.FCM_ERROR_CODE_THIRD_PARTY_AUTH_ERROR
    assert len(await fcm.messages()) == 1
    assert await invalidations(bootstrap, namespace, 1, timeout_s=1) == []
