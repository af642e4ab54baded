"""Due notifications become one FCM message per target, and one report each."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import Path

from dispatcher.conftest import StartDispatcher
from dispatcher.support import (
    PROJECT,
    SlowTokenEndpoint,
    accepted,
    due,
    entry,
    issue,
    publish_due,
    publish_tokens,
    reports,
    slow_browser,
)
from redis.asyncio import Redis

from fcm_emulator import service_account
from fcm_emulator.client import EmulatorClient
from fcm_emulator.targets import TargetKind
from fcm_emulator.testing import RunningEmulator
from herald.producer import Producer
from herald.v1 import common_pb2, deliveries_pb2
from herald_dispatcher import ledger
from herald_dispatcher.deliverer import RESENT
from herald_dispatcher.keys import Keys


async def test_three_targets_get_one_message_each_and_three_reports(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    start_dispatcher: StartDispatcher,
) -> None:
    browser = await issue(fcm)
    installation = await issue(fcm, TargetKind.FID)
    phone = await issue(fcm)
    await publish_tokens(
        producer,
        "ada",
        [entry(browser), entry(installation), entry(phone, common_pb2.PLATFORM_ANDROID)],
    )
    await start_dispatcher()
    expires_ms = int(time.time() * 1000) + 600_000
    message = due("n-1", "ada", collapse_key="tea", urgency=common_pb2.URGENCY_HIGH)
    message.expires_at.FromMilliseconds(expires_ms)
    await publish_due(producer, message)

    found = await reports(bootstrap, namespace, 3)

    assert sorted(r.target.value for r in found) == sorted(
        [browser.target, installation.target, phone.target]
    )
    assert {r.status for r in found} == {deliveries_pb2.DELIVERY_STATUS_SENT}
    assert all(r.notification_id == "n-1" and r.user_id == "ada" for r in found)
    assert all(r.attempts == 1 for r in found)
    sent = await accepted(fcm)
    assert sorted(m.target for m in sent if m.target) == sorted(r.target.value for r in found)
    assert {m.name for m in sent} == {r.fcm_message_name for r in found}

    (web,) = [m.message for m in sent if m.target == browser.target]
    assert web["token"] == browser.target
    assert web["data"] == {"timer": "tea"}
    assert web["webpush"]["notification"] == {
        "title": "Tea is ready",
        "body": "Your timer ended.",
        "icon": "https://herald.example/icon.png",
        "tag": "tea",
    }
    assert web["webpush"]["fcm_options"] == {"link": "https://herald.example/timers/tea"}
    headers = web["webpush"]["headers"]
    assert headers["Urgency"] == "high"
    assert headers["Topic"] == "tea"
    assert 590 <= int(headers["TTL"]) <= 600
    (fid,) = [m for m in sent if m.target == installation.target]
    assert fid.target_kind == "fid"
    (android,) = [m.message for m in sent if m.target == phone.target]
    assert android["android"]["collapse_key"] == "tea"
    assert android["android"]["priority"] == "high"
    assert android["android"]["notification"] == {"tag": "tea"}
    assert android["notification"]["title"] == "Tea is ready"
    assert "webpush" not in android


async def test_a_user_without_targets_gets_a_no_targets_report(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    start_dispatcher: StartDispatcher,
) -> None:
    await start_dispatcher()
    await publish_due(producer, due("n-lonely", "nobody"))

    (report,) = await reports(bootstrap, namespace, 1)

    assert report.status == deliveries_pb2.DELIVERY_STATUS_NO_TARGETS
    assert report.notification_id == "n-lonely"
    assert not report.HasField("target")
    assert await fcm.messages() == []


async def test_a_notification_that_expired_before_sending_is_reported_expired_not_sent(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    start_dispatcher: StartDispatcher,
) -> None:
    browser = await issue(fcm)
    await publish_tokens(producer, "bob", [entry(browser)])
    await start_dispatcher()
    message = due("n-late", "bob")
    message.expires_at.FromMilliseconds(int(time.time() * 1000) - 1000)
    await publish_due(producer, message)

    (report,) = await reports(bootstrap, namespace, 1)

    assert report.status == deliveries_pb2.DELIVERY_STATUS_EXPIRED
    assert report.target.value == browser.target
    assert report.attempts == 0
    assert await fcm.messages() == []


async def test_a_notification_expiring_within_the_margin_is_reported_expired_not_sent(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    start_dispatcher: StartDispatcher,
) -> None:
    browser = await issue(fcm)
    await publish_tokens(producer, "bob", [entry(browser)])
    await start_dispatcher(expiry_margin_ms=60_000)
    soon = due("n-soon", "bob")
    soon.expires_at.FromMilliseconds(int(time.time() * 1000) + 30_000)
    await publish_due(producer, soon)

    (report,) = await reports(bootstrap, namespace, 1)

    assert report.status == deliveries_pb2.DELIVERY_STATUS_EXPIRED
    assert await fcm.messages() == []


async def test_a_notification_that_expires_while_the_access_token_is_refreshed_is_not_sent(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    emulator: RunningEmulator,
    start_dispatcher: StartDispatcher,
    tmp_path: Path,
) -> None:
    browser = await issue(fcm)
    await publish_tokens(producer, "bob", [entry(browser)])
    info = emulator.service_account(PROJECT)
    async with SlowTokenEndpoint(emulator.url, info) as tokens:
        account = tmp_path / "service-account.json"
        service_account.write(account, {**info, "token_uri": tokens.token_uri})
        await start_dispatcher(fcm_credentials={PROJECT: account})
        # FCM refuses the dispatcher's token from now on, and a new one takes 3 s to come.
        tokens.delay_s = 3.0
        await fcm.expire_access_tokens()
        late = due("n-expires-meanwhile", "bob")
        late.expires_at.FromMilliseconds(int(time.time() * 1000) + 1500)
        await publish_due(producer, late)

        (report,) = await reports(bootstrap, namespace, 1)

    assert report.status == deliveries_pb2.DELIVERY_STATUS_EXPIRED
    assert await accepted(fcm) == []


async def test_a_key_this_process_claimed_and_left_is_taken_over_without_waiting_its_lease(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    redis: Redis,
    start_dispatcher: StartDispatcher,
) -> None:
    browser = await issue(fcm)
    await publish_tokens(producer, "bob", [entry(browser)])
    await start_dispatcher()
    # What a batch that failed between its claim and its send leaves (a Redis error, say): the
    # key pending under a claim of this process (the dispatcher runs in the test's process)
    # whose delivery has ended, with 12 s of lease left.
    key = Keys(namespace).delivery("n-left", PROJECT, browser.target)
    await redis.set(key, ledger._pending(int(time.time() * 1000) + 12_000), px=60_000)
    await publish_due(producer, due("n-left", "bob"))

    # Well before the lease runs out.
    (report,) = await reports(bootstrap, namespace, 1, timeout_s=6)

    assert report.status == deliveries_pb2.DELIVERY_STATUS_SENT
    assert len(await accepted(fcm, browser.target)) == 1


async def test_a_claim_that_waits_long_for_its_slot_renews_its_lease_and_is_sent_once(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    redis: Redis,
    start_dispatcher: StartDispatcher,
) -> None:
    browser = await slow_browser(fcm, producer, "rae", latency_ms=1200)
    ids = [f"r-{n}" for n in range(4)]
    for notification_id in ids:
        await publish_due(producer, due(notification_id, "rae"))
    keys = [Keys(namespace).delivery(i, PROJECT, browser.target) for i in ids]
    # The pending values each key held, as claimed and as renewed.
    pending: dict[str, list[str]] = defaultdict(list)

    async def watch() -> None:
        while True:
            for key, value in zip(keys, await redis.mget(keys), strict=True):
                text = value.decode() if isinstance(value, bytes) else ""
                if text.startswith("p:") and text not in pending[key]:
                    pending[key].append(text)
            await asyncio.sleep(0.02)

    watching = asyncio.ensure_future(watch())
    try:
        # One request in flight; two batches of two: a claim waits a whole send for its slot.
        await start_dispatcher(max_in_flight=1, batch_max_records=2)
        everything = await reports(bootstrap, namespace, len(ids), timeout_s=15)
    finally:
        watching.cancel()

    assert sorted(r.notification_id for r in everything) == ids
    assert {r.status for r in everything} == {deliveries_pb2.DELIVERY_STATUS_SENT}
    assert all(r.error_message != RESENT for r in everything)
    assert len(await accepted(fcm, browser.target)) == len(ids)
    renewed = [values for values in pending.values() if len(values) > 1]
    assert renewed, "no claim waited past the renewal"
    for claimed, *renewals in renewed:
        # Each renewal runs from a later time than the claim or renewal before it.
        leases = [int(value.split(":")[1]) for value in (claimed, *renewals)]
        assert leases == sorted(set(leases))


async def test_a_retry_goes_only_to_the_targets_it_names(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    start_dispatcher: StartDispatcher,
) -> None:
    first, second = await issue(fcm), await issue(fcm)
    await publish_tokens(producer, "cy", [entry(first), entry(second)])
    await start_dispatcher()
    retry = due("n-retry", "cy", attempts=2)
    retry.targets.append(entry(second).target)
    await publish_due(producer, retry)

    (report,) = await reports(bootstrap, namespace, 1)

    assert report.target.value == second.target
    assert report.status == deliveries_pb2.DELIVERY_STATUS_SENT
    assert report.attempts == 3
    assert [m.target for m in await accepted(fcm)] == [second.target]
    assert PROJECT in report.fcm_message_name


async def test_a_send_now_retried_with_a_new_occurrence_time_notifies_once(
    bootstrap: str,
    namespace: str,
    producer: Producer,
    fcm: EmulatorClient,
    start_dispatcher: StartDispatcher,
) -> None:
    # A product service retrying POST /v1/notifications with its own notification_id: the
    # token-api stamps each attempt's occurrence_at with the time it arrived.
    browser = await issue(fcm)
    await publish_tokens(producer, "eve", [entry(browser)])
    await start_dispatcher()
    now_ms = int(time.time() * 1000)
    for attempt in range(2):
        message = due("n-retried", "eve")
        message.occurrence_at.FromMilliseconds(now_ms + attempt * 1500)
        await publish_due(producer, message)

    first, again = await reports(bootstrap, namespace, 2)

    assert [first.status, again.status] == [deliveries_pb2.DELIVERY_STATUS_SENT] * 2
    assert len(await accepted(fcm, browser.target)) == 1
