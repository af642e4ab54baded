"""Security checks beyond test_auth.py: credentials as raw bytes on the wire, service endpoints
with user tokens (and the near misses of a service scope) publishing nothing, one user's
attempts on another's fid leaving it and its published set alone, and push targets never
written to a log in full, by the token-api process or by the dispatcher."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import hypothesis
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from token_api.probes import (
    captured_logs,
    dispatcher_running,
    leaks,
    raw_request,
    request_bytes,
    token_api_process,
)
from token_api.support import (
    AS_SERVICE,
    SERVICE_KEY,
    Client,
    as_user,
    drained,
    read_all,
    token,
    until,
)

from fcm_emulator import service_account
from fcm_emulator.client import EmulatorClient
from fcm_emulator.targets import TargetKind
from fcm_emulator.testing import RunningEmulator, run_in_thread
from herald import topics
from herald.logs import mask
from herald.producer import Producer
from herald.v1 import common_pb2, notifications_pb2, tokens_pb2
from herald_token_api.db import Pool
from kit.kafka import read_topic

# --- credentials as bytes: aiohttp hands header bytes that are not UTF-8 on as lone
# surrogates, which the authenticator once failed to encode (a 500).

ALICE = token("alice").encode()


def bearer(value: bytes) -> bytes:
    return b"Authorization: Bearer " + value


# The aiohttp parser refuses control characters itself (a 400 before any handler).
header_bytes = st.binary(max_size=120).map(
    lambda b: bytes(c for c in b if c == 9 or 32 <= c != 127)
)


@pytest.mark.parametrize(
    "head",
    [
        request_bytes(b"GET", b"/v1/targets", bearer(ALICE + b"\xff")),
        request_bytes(b"GET", b"/v1/targets", bearer(ALICE.split(b".")[0] + b".\xff.\xfe")),
        request_bytes(b"POST", b"/v1/notifications", b"X-Herald-Service-Key: \xff\xfe"),
        request_bytes(b"POST", b"/v1/notifications", bearer(b"\xc3\xa9" + ALICE)),
    ],
    ids=["bad UTF-8 after a valid JWT", "bad UTF-8 claims", "bad UTF-8 key", "UTF-8 not ASCII"],
)
async def test_credentials_that_are_not_utf8_or_ascii_are_a_401_problem(
    offline_api: Client, head: bytes
) -> None:
    status, headers, body = await raw_request(offline_api, head)
    assert status == 401
    assert b"application/problem+json" in headers
    assert json.loads(body)["reason"] == "unauthorized"


@hypothesis.settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(value=header_bytes, header=st.sampled_from([b"Authorization: ", b"X-Herald-Service-Key: "]))
async def test_any_credential_bytes_are_refused_with_a_problem(
    offline_api: Client, value: bytes, header: bytes
) -> None:
    for method, path in [(b"GET", b"/v1/targets"), (b"DELETE", b"/v1/reminders/r-1")]:
        status, headers, body = await raw_request(
            offline_api, request_bytes(method, path, header + value)
        )
        assert status in (401, 403), body
        assert b"application/problem+json" in headers


# --- service endpoints: a user token, however close to a service credential, publishes nothing.


def bearer_of(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


REMINDER = {
    "user_id": "alice",
    "content": {"title": "Stand-up"},
    "fire_at": "2030-01-01T09:00:00+01:00",
    "expires_at": "2030-01-01T10:00:00+01:00",
}
# A valid user token without the scope is a 403; a credential that is not valid, a 401.
NOT_A_SERVICE: dict[str, tuple[dict[str, str], int]] = {
    "user JWT": (as_user("alice"), 403),
    "scope with a suffix": (bearer_of(token("a", scope="herald:services")), 403),
    "scope, other case": (bearer_of(token("a", scope="HERALD:SERVICE")), 403),
    "scope as a list": (bearer_of(token("a", scope=["herald:service"])), 403),
    "scp as a string": (bearer_of(token("a", scp="herald:service")), 403),
    "scope, expired": (bearer_of(token("a", scope="herald:service", expires_in_s=-120)), 401),
    "scope, other audience": (bearer_of(token("a", scope="herald:service", audience="b")), 401),
    "user JWT as the key": ({"X-Herald-Service-Key": token("alice")}, 401),
    "key as a bearer token": (bearer_of(SERVICE_KEY), 401),
    "key with a suffix": ({"X-Herald-Service-Key": SERVICE_KEY + "0"}, 401),
    "key cut short": ({"X-Herald-Service-Key": SERVICE_KEY[:-1]}, 401),
    "wrong key, user JWT": ({**as_user("alice"), "X-Herald-Service-Key": "nope"}, 401),
}
SERVICE_CALLS = [
    ("POST", "/v1/reminders"),
    ("DELETE", "/v1/reminders/rem-1"),
    ("POST", "/v1/notifications"),
]


async def test_service_endpoints_refuse_every_user_credential_and_publish_nothing(
    api: Client, bootstrap: str, namespace: str
) -> None:
    for name, (headers, status) in NOT_A_SERVICE.items():
        for method, path in SERVICE_CALLS:
            response = await api.request(method, path, json=REMINDER, headers=headers)
            assert response.status == status, (name, path)
            assert response.content_type == "application/problem+json"
    # One accepted call last: the topics are read up to it, so nothing refused slipped in before.
    sent = await api.post(
        "/v1/notifications",
        json={"user_id": "alice", "content": {"title": "t"}},
        headers=AS_SERVICE,
    )
    assert sent.status == 202
    assert await read_all(bootstrap, namespace, topics.REMINDERS) == []
    (due,) = await read_all(bootstrap, namespace, topics.NOTIFICATIONS_DUE)
    assert (
        notifications_pb2.NotificationDue.FromString(due.value).notification_id
        == (await sent.json())["notification_id"]
    )


async def test_a_service_credential_is_not_a_user(offline_api: Client) -> None:
    for method, path in [("GET", "/v1/targets"), ("DELETE", "/v1/targets")]:
        response = await offline_api.request(method, path, headers=AS_SERVICE)
        assert response.status == 401, path


# --- cross-user, on a fid (test_auth.py covers tokens): refused, and no new set for its owner.

FID = "fAbCdEfGhIjKlMnOpQrStU"


async def test_another_users_attempts_on_a_fid_change_neither_its_row_nor_its_set(
    offline_api: Client, pool: Pool
) -> None:
    alice, bob = as_user("alice"), as_user("bob")
    created = await offline_api.put("/v1/targets", json={"fid": FID}, headers=alice)
    assert created.status == 201
    target_id = (await created.json())["target"]["id"]
    before = await pool.fetchrow("SELECT * FROM push_tokens")
    sets_before = await pool.fetchval("SELECT count(*) FROM token_outbox WHERE user_id = 'alice'")

    assert (await offline_api.delete(f"/v1/targets/{target_id}", headers=bob)).status == 404
    refreshed = await offline_api.post(
        "/v1/targets/refresh",
        json={"old": {"fid": FID}, "new": {"fid": "eAbCdEfGhIjKlMnOpQrStU"}},
        headers=bob,
    )
    assert (await refreshed.json())["replaced"] is False
    await offline_api.delete("/v1/targets", headers=bob)

    assert await pool.fetchrow("SELECT * FROM push_tokens WHERE user_id = 'alice'") == before
    sets_after = await pool.fetchval("SELECT count(*) FROM token_outbox WHERE user_id = 'alice'")
    assert sets_after == sets_before, "bob's attempts published a new set for alice"


# --- logs: debug level, every path that touches a target, refusals that carry one.


def new_token() -> str:
    return "cLoG" + secrets.token_urlsafe(96)


def new_fid() -> str:
    return "d" + secrets.token_urlsafe(16)[:21]


async def test_the_token_api_process_never_logs_a_target_in_full(
    database_url: str,
    pool: Pool,
    bootstrap: str,
    namespace: str,
    producer: Producer,
    tmp_path: Path,
) -> None:
    a, b, c, fid = new_token(), new_token(), new_token(), new_fid()
    log_path = tmp_path / "token-api.log"
    alice, bob, as_json = as_user("alice"), as_user("bob"), {"Content-Type": "application/json"}
    async with (
        token_api_process(database_url, bootstrap, namespace, log_path) as base,
        aiohttp.ClientSession(base_url=base) as http,
    ):

        async def call(method: str, path: str, status: int, headers: Any = alice, **kw: Any) -> Any:
            async with http.request(method, path, headers=headers, **kw) as response:
                assert response.status == status, (method, path, await response.text())
                return await response.json() if status != 204 else None

        await call("PUT", "/v1/targets", 201, json={"token": a, "device_label": "Firefox"})
        await call("PUT", "/v1/targets", 200, json={"token": a})
        await call("PUT", "/v1/targets", 201, json={"fid": fid, "platform": "android"})
        refresh = {"old": {"token": a}, "new": {"token": b}}
        assert (await call("POST", "/v1/targets/refresh", 201, json=refresh))["replaced"]
        await call("PUT", "/v1/targets", 201, headers=bob, json={"fid": fid})  # moves to bob
        # Refused, each with a target in the request.
        await call("PUT", "/v1/targets", 422, json={"token": c, "admin": True})
        await call("PUT", "/v1/targets", 422, json={"token": c + " "})
        await call("PUT", "/v1/targets", 400, data=f'{{"token": "{c}"', headers=alice | as_json)
        await call(
            "PUT", "/v1/targets", 415, data=c, headers=alice | {"Content-Type": "text/plain"}
        )
        await call("DELETE", f"/v1/targets/{c}", 404)
        await call("GET", "/v1/targets", 401, headers={"Authorization": f"Bearer {c}"})
        body = {"user_id": "alice", "content": {"title": c}}
        await call("POST", "/v1/notifications", 401, headers={"X-Herald-Service-Key": c}, json=body)
        # FCM said b is dead.
        dead = tokens_pb2.TokenInvalidated(
            event_id="inv-1",
            user_id="alice",
            target=common_pb2.Target(kind=common_pb2.TARGET_KIND_TOKEN, value=b),
            reason=tokens_pb2.INVALIDATION_REASON_UNREGISTERED,
            detail="Requested entity was not found.",
        )
        dead.observed_at.GetCurrentTime()
        await producer.send_and_wait(topics.TOKENS_INVALIDATED, "alice", dead)

        async def deleted() -> bool:
            return not await pool.fetchval("SELECT count(*) FROM push_tokens WHERE target = $1", b)

        await until(deleted)
        (moved,) = (await call("GET", "/v1/targets", 200, headers=bob))["targets"]
        await call("DELETE", f"/v1/targets/{moved['id']}", 204, headers=bob)
        await call("DELETE", "/v1/targets", 200)
        await drained(pool)
    log = log_path.read_text()
    assert '"level": "debug"' in log, "the process did not log at debug level"
    assert leaks(log, [a, b, c, fid]) == []
    # JSON log lines: the mask's ellipsis is escaped.
    assert json.dumps(mask(b)) in log, "the invalidation was not logged (masked)"


PROJECT = "herald-log-test"


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[RunningEmulator]:
    keys = tmp_path / "keys"
    keys.mkdir()
    with run_in_thread(keys) as running:
        yield running


async def test_the_dispatcher_never_logs_a_target_in_full(
    bootstrap: str, namespace: str, producer: Producer, emulator: RunningEmulator, tmp_path: Path
) -> None:
    account = tmp_path / "service-account.json"
    service_account.write(account, emulator.service_account(PROJECT))
    async with EmulatorClient(emulator.url) as fcm:
        live = await fcm.issue_target(PROJECT, TargetKind.TOKEN)
        dead = await fcm.issue_target(PROJECT, TargetKind.FID)
        await fcm.unregister_target(dead.target)
    kinds = {
        TargetKind.TOKEN: common_pb2.TARGET_KIND_TOKEN,
        TargetKind.FID: common_pb2.TARGET_KIND_FID,
    }
    targets = [
        common_pb2.Target(kind=kinds[t.kind], value=t.target, project_id=PROJECT)
        for t in (live, dead)
    ]
    entries = [tokens_pb2.TokenEntry(target=target) for target in targets]
    token_set = tokens_pb2.TokenSet(event_id="ts-1", user_id="dee", tokens=entries, version=1)
    await producer.send_and_wait(topics.TOKENS, "dee", token_set)
    due = notifications_pb2.NotificationDue(
        event_id="ev-1",
        notification_id="n-1",
        user_id="dee",
        content=common_pb2.NotificationContent(title="Tea is ready"),
    )
    due.occurrence_at.GetCurrentTime()
    with captured_logs() as logs:
        async with dispatcher_running(bootstrap, namespace, emulator.url, {PROJECT: account}):
            await producer.send_and_wait(topics.NOTIFICATIONS_DUE, "dee", due)
            name = namespace + topics.TOKENS_INVALIDATED.name
            (record,) = await read_topic(bootstrap, name, 1, timeout_s=30)
    assert tokens_pb2.TokenInvalidated.FromString(record.value).target.value == dead.target
    log = logs.getvalue()
    assert '"level": "debug"' in log
    assert leaks(log, [live.target, dead.target]) == []
