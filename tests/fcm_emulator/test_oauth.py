"""The token exchange and the bearer check on `messages:send`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fcm_emulator.settings import Settings
from fcm_emulator.testing import HttpSender, RunningEmulator, exchange, run_in_thread
from fcm_emulator.testing import sign_assertion as assertion

TOKEN = "cAbCdEfGhIjKlMnOpQrStU:APA91bSyntheticTargetForOAuthTests"


async def test_token_endpoint_issues_an_expiring_bearer(
    emulator: RunningEmulator, project_account: dict[str, str]
) -> None:
    async with aiohttp.ClientSession() as session:
        status, grant = await exchange(session, emulator.url, assertion(project_account))
    assert status == 200
    assert grant["token_type"] == "Bearer"
    assert grant["expires_in"] == 3600
    assert grant["access_token"]


async def test_token_endpoint_rejects_a_bad_signature(
    emulator: RunningEmulator, project_account: dict[str, str]
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = {
        **project_account,
        "private_key": stranger.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    }
    async with aiohttp.ClientSession() as session:
        status, body = await exchange(session, emulator.url, assertion(forged))
    assert status == 400
    assert body == {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}


async def test_token_endpoint_checks_audience_times_scope_and_issuer(
    emulator: RunningEmulator, project_account: dict[str, str]
) -> None:
    now = int(time.time())
    unknown = {**project_account, "client_email": "nobody@nowhere.iam.gserviceaccount.com"}
    cases = {
        "wrong audience": (
            assertion(project_account, aud="https://elsewhere/token"),
            "invalid_grant",
        ),
        "expired": (assertion(project_account, iat=now - 7200, exp=now - 3600), "invalid_grant"),
        "too long-lived": (assertion(project_account, exp=now + 7200), "invalid_grant"),
        "no messaging scope": (
            assertion(project_account, scope="https://www.googleapis.com/auth/datastore"),
            "invalid_scope",
        ),
        "unknown account": (assertion(unknown), "invalid_grant"),
    }
    async with aiohttp.ClientSession() as session:
        for case, (signed, expected) in cases.items():
            status, body = await exchange(session, emulator.url, signed)
            assert (status, body["error"]) == (400, expected), case


async def test_token_endpoint_accepts_its_own_uri_as_audience(
    emulator: RunningEmulator, project_account: dict[str, str]
) -> None:
    signed = assertion(project_account, aud=f"{emulator.url}/token")
    async with aiohttp.ClientSession() as session:
        status, _ = await exchange(session, emulator.url, signed)
    assert status == 200


async def test_missing_or_unknown_bearer_is_unauthenticated(raw: HttpSender) -> None:
    url = f"{raw.url}/v1/projects/{raw.project_id}/messages:send"
    body = {"message": {"token": TOKEN}}
    for headers in ({}, {"Authorization": "Bearer ya29.made-up"}):
        async with raw.session.post(url, json=body, headers=headers) as response:
            answer = await response.json()
            assert response.status == 401
        assert answer["error"]["status"] == "UNAUTHENTICATED"
        assert "details" not in answer["error"]


async def test_expired_bearer_is_unauthenticated(tmp_path: Path) -> None:
    settings = Settings(access_token_ttl_s=1, log_requests=False)
    with run_in_thread(tmp_path, settings) as short_lived:
        account = short_lived.service_account("herald-test")
        async with aiohttp.ClientSession() as session:
            sender = await HttpSender.for_account(session, short_lived.url, account)
            assert (await sender.send({"token": TOKEN}))[0] == 200
            await asyncio.sleep(1.1)
            status, body, _ = await sender.send({"token": TOKEN})
    assert status == 401
    assert body["error"]["status"] == "UNAUTHENTICATED"


async def test_bearer_of_another_project_is_denied(raw: HttpSender) -> None:
    status, body, _ = await raw.send({"token": TOKEN}, project_id="herald-other")
    assert status == 403
    assert body["error"]["status"] == "PERMISSION_DENIED"
