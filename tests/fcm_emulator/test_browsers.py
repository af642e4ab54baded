"""Targets issued to browsers, and what their streams receive."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from fcm_emulator.client import EmulatorClient, EmulatorError
from fcm_emulator.settings import Settings
from fcm_emulator.streams import sender_id
from fcm_emulator.targets import TargetKind
from fcm_emulator.testing import HttpSender, run_in_thread

PROJECT = "herald-test"
SYNTHETIC = "cAbCdEfGhIjKlMnOpQrStU:APA91bSyntheticTargetNobodyIssued"


def reminder(target: str, n: int) -> dict[str, Any]:
    return {
        "token": target,
        "notification": {"title": "Tea", "body": f"Cup {n}"},
        "data": {"n": str(n)},
        "fcm_options": {"analytics_label": "tea"},
        "webpush": {
            "headers": {"TTL": "60", "Urgency": "high"},
            "notification": {"icon": "https://herald.example/icon.png"},
            "fcm_options": {"link": f"https://herald.example/r/{n}"},
        },
    }


async def test_stream_receives_exactly_the_messages_sent_to_its_target(
    raw: HttpSender, fcm: EmulatorClient
) -> None:
    mine = await fcm.issue_target(PROJECT)
    theirs = await fcm.issue_target(PROJECT)
    async with fcm.stream(mine.target) as browser, fcm.stream(theirs.target) as other:
        names = []
        for n in range(3):
            status, body, _ = await raw.send(reminder(mine.target, n))
            assert status == 200
            names.append(body["name"])
            await raw.send(reminder(theirs.target, 10 + n))
        assert (await raw.send(reminder(mine.target, 98), validate_only=True))[0] == 200
        refused = {**reminder(mine.target, 99), "data": {"n": 99}}
        assert (await raw.send(refused))[0] == 400

        received = [await browser.receive() for _ in range(3)]
        assert received[0] == {
            "notification": {
                "title": "Tea",
                "body": "Cup 0",
                "icon": "https://herald.example/icon.png",
            },
            "data": {"n": "0"},
            "fcmOptions": {"analyticsLabel": "tea", "link": "https://herald.example/r/0"},
            "from": sender_id(PROJECT),
            "collapseKey": "do_not_collapse",
            "messageId": names[0].rsplit("/", 1)[1],
        }
        assert [p["messageId"] for p in received] == [n.rsplit("/", 1)[1] for n in names]
        assert [(await other.receive())["data"]["n"] for _ in range(3)] == ["10", "11", "12"]
        with pytest.raises(TimeoutError):
            await browser.receive(timeout_s=0.3)


async def test_webpush_settings_override_the_shared_ones(
    raw: HttpSender, fcm: EmulatorClient
) -> None:
    target = await fcm.issue_target(PROJECT, TargetKind.FID)
    message = {
        "fid": target.target,
        "notification": {"title": "shared", "body": "shared body"},
        "data": {"a": "shared", "b": "shared"},
        "webpush": {
            "headers": {"Topic": "tea-timer"},
            "notification": {"title": "web"},
            "data": {"b": "web"},
        },
    }
    async with fcm.stream(target.target) as browser:
        assert (await raw.send(message))[0] == 200
        payload = await browser.receive()
    assert payload["notification"] == {"title": "web", "body": "shared body"}
    assert payload["data"] == {"a": "shared", "b": "web"}
    assert payload["collapseKey"] == "tea-timer"


async def test_rotated_target_answers_unregistered_and_its_successor_receives(
    raw: HttpSender, fcm: EmulatorClient
) -> None:
    old = await fcm.issue_target(PROJECT)
    new = await fcm.rotate_target(old.target)
    assert new.target != old.target

    status, body, _ = await raw.send(reminder(old.target, 1))
    assert status == 404
    assert body["error"]["status"] == "NOT_FOUND"
    assert body["error"]["details"][0]["errorCode"] == "UNREGISTERED"
    async with fcm.stream(new.target) as browser:
        assert (await raw.send(reminder(new.target, 2)))[0] == 200
        assert (await browser.receive())["data"] == {"n": "2"}


async def test_expired_deleted_and_unregistered_targets_answer_unregistered(
    raw: HttpSender, fcm: EmulatorClient
) -> None:
    short_lived = await fcm.issue_target(PROJECT, ttl_s=0.2)
    deleted = await fcm.issue_target(PROJECT)
    expired = await fcm.issue_target(PROJECT)
    await fcm.delete_target(deleted.target)
    await fcm.expire_target(expired.target)
    await fcm.unregister_target(SYNTHETIC)
    assert (await raw.send(reminder(short_lived.target, 1)))[0] == 200
    await asyncio.sleep(0.25)

    for target in (short_lived.target, deleted.target, expired.target, SYNTHETIC):
        status, body, _ = await raw.send(reminder(target, 2))
        assert (status, body["error"]["details"][0]["errorCode"]) == (404, "UNREGISTERED")
    with pytest.raises(EmulatorError) as refused:
        async with fcm.stream(deleted.target):
            pass
    assert refused.value.status == 410


async def test_synthetic_targets_are_accepted_unless_strict(
    raw: HttpSender, tmp_path: Path
) -> None:
    assert (await raw.send(reminder(SYNTHETIC, 1)))[0] == 200

    settings = Settings(strict_targets=True, log_requests=False)
    with run_in_thread(tmp_path, settings) as strict:
        account = strict.service_account(PROJECT)
        async with aiohttp.ClientSession() as session, EmulatorClient(strict.url) as control:
            strict_raw = await HttpSender.for_account(session, strict.url, account)
            issued = await control.issue_target(PROJECT)
            assert (await strict_raw.send(reminder(issued.target, 1)))[0] == 200
            assert (await strict_raw.send(reminder(SYNTHETIC, 1)))[0] == 404


async def test_browser_endpoints_allow_cross_origin_calls(raw: HttpSender) -> None:
    url = f"{raw.url}/browser/v1/projects/{PROJECT}/targets"
    headers = {"Origin": "http://localhost:5173"}
    async with raw.session.options(url, headers=headers) as preflight:
        assert preflight.status == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    async with raw.session.post(url, json={"kind": "fid"}, headers=headers) as issued:
        assert issued.status == 201
        assert issued.headers["Access-Control-Allow-Origin"] == "*"
        assert (await issued.json())["kind"] == "fid"
