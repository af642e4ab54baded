"""firebase-admin, configured with a generated service-account file, against the emulator."""

from __future__ import annotations

import asyncio
import re
import warnings
from typing import Any

import firebase_admin  # type: ignore[import-untyped,unused-ignore]
import pytest
from firebase_admin import exceptions, messaging

from fcm_emulator.client import EmulatorClient
from fcm_emulator.errors import FcmErrorCode
from fcm_emulator.faults import FaultConfig
from fcm_emulator.targets import TargetKind

PROJECT = "herald-test"
OTHER_PROJECT = "herald-other"
NAME_RE = re.compile(rf"projects/{PROJECT}/messages/\d+")


def webpush_message(**target: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return messaging.Message(
            data={"reminder_id": "r-1"},
            webpush=messaging.WebpushConfig(
                headers={"TTL": "3600", "Urgency": "high"},
                notification=messaging.WebpushNotification(title="Tea", body="Steeped"),
                fcm_options=messaging.WebpushFCMOptions(link="https://herald.example/r/1"),
            ),
            **target,
        )


async def send_one(app: firebase_admin.App, message: Any) -> Any:
    """One message through send_each_async; the SendResponse."""
    batch = await messaging.send_each_async([message], app=app)
    return batch.responses[0]


async def test_send_webpush_returns_a_message_name_and_is_recorded(
    firebase_app: firebase_admin.App, fcm: EmulatorClient
) -> None:
    target = await fcm.issue_target(PROJECT, TargetKind.FID)

    response = await send_one(firebase_app, webpush_message(fid=target.target))

    assert response.exception is None
    assert NAME_RE.fullmatch(response.message_id)
    [received] = await fcm.messages(target=target.target)
    assert received.name == response.message_id
    assert received.target_kind == "fid"
    assert received.message["webpush"]["notification"] == {"title": "Tea", "body": "Steeped"}


async def test_blocking_send_with_deprecated_token_field(
    firebase_app: firebase_admin.App, fcm: EmulatorClient
) -> None:
    target = await fcm.issue_target(PROJECT, TargetKind.TOKEN)
    message = webpush_message(token=target.target)

    name = await asyncio.to_thread(messaging.send, message, app=firebase_app)

    assert NAME_RE.fullmatch(name)
    [received] = await fcm.messages(target=target.target)
    assert received.target_kind == "token"


async def test_dry_run_validates_without_delivering(
    firebase_app: firebase_admin.App, fcm: EmulatorClient
) -> None:
    target = await fcm.issue_target(PROJECT, TargetKind.FID)
    async with fcm.stream(target.target) as browser:
        batch = await messaging.send_each_async(
            [webpush_message(fid=target.target)], dry_run=True, app=firebase_app
        )
        assert batch.responses[0].exception is None, batch.responses[0].exception
        assert batch.responses[0].message_id == f"projects/{PROJECT}/messages/fake_message_id"
        with pytest.raises(TimeoutError):
            await browser.receive(timeout_s=0.3)
    [received] = await fcm.messages(target=target.target)
    assert received.validate_only


async def test_sender_recovers_when_its_access_token_expires(
    firebase_app: firebase_admin.App, fcm: EmulatorClient
) -> None:
    target = await fcm.issue_target(PROJECT, TargetKind.FID)
    assert (await send_one(firebase_app, webpush_message(fid=target.target))).success

    await fcm.expire_access_tokens()
    response = await send_one(firebase_app, webpush_message(fid=target.target))

    assert response.success, response.exception


@pytest.mark.parametrize(
    ("code", "exception", "status", "attempts"),
    [
        (FcmErrorCode.UNREGISTERED, messaging.UnregisteredError, 404, 1),
        (FcmErrorCode.SENDER_ID_MISMATCH, messaging.SenderIdMismatchError, 403, 1),
        (FcmErrorCode.QUOTA_EXCEEDED, messaging.QuotaExceededError, 429, 1),
        # On a 401 firebase-admin refreshes its access token and tries twice more.
        (FcmErrorCode.THIRD_PARTY_AUTH_ERROR, messaging.ThirdPartyAuthError, 401, 3),
        (FcmErrorCode.INVALID_ARGUMENT, exceptions.InvalidArgumentError, 400, 1),
        # On 500 and 503 it retries four times, with backoff (0 + 1 + 2 + 4 s).
        (FcmErrorCode.UNAVAILABLE, exceptions.UnavailableError, 503, 5),
        (FcmErrorCode.INTERNAL, exceptions.InternalError, 500, 5),
    ],
)
async def test_each_fcm_error_raises_the_matching_firebase_admin_exception(
    firebase_app: firebase_admin.App,
    fcm: EmulatorClient,
    code: FcmErrorCode,
    exception: type[exceptions.FirebaseError],
    status: int,
    attempts: int,
) -> None:
    target = await fcm.issue_target(PROJECT, TargetKind.FID)
    await fcm.set_faults(FaultConfig(error_rates={code: 1.0}))

    response = await send_one(firebase_app, webpush_message(fid=target.target))

    assert type(response.exception) is exception
    assert response.exception.http_response.status_code == status
    if code is FcmErrorCode.QUOTA_EXCEEDED:
        assert response.exception.http_response.headers["Retry-After"] == "60"
    received = await fcm.messages(target=target.target)
    assert [record.error_code for record in received] == [code.value] * attempts


async def test_target_states_map_to_firebase_admin_exceptions(
    firebase_app: firebase_admin.App, fcm: EmulatorClient
) -> None:
    foreign = await fcm.issue_target(OTHER_PROJECT, TargetKind.FID)
    rotated = await fcm.issue_target(PROJECT, TargetKind.FID)
    await fcm.rotate_target(rotated.target)

    outcomes = await messaging.send_each_async(
        [
            webpush_message(fid=foreign.target),
            webpush_message(fid=rotated.target),
            webpush_message(fid="not a fid!"),
        ],
        app=firebase_app,
    )

    kinds = [type(response.exception) for response in outcomes.responses]
    assert kinds == [
        messaging.SenderIdMismatchError,
        messaging.UnregisteredError,
        exceptions.InvalidArgumentError,
    ]
