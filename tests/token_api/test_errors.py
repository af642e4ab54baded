"""Bad input is a 4xx problem+json with a reason, never a 5xx; a database outage is a 503 with
Retry-After, and the service recovers by itself."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from token_api.proxy import TcpProxy
from token_api.support import (
    Client,
    as_user,
    drained,
    fcm_token,
    latest_sets,
    make_settings,
    running,
    token_sets,
)

from herald_token_api.db import Pool

GOOD = {"token": fcm_token(1)}
JSON = {"Content-Type": "application/json"}
# (method, path, raw body, extra headers) -> (status, reason)
CASES: dict[str, tuple[str, str, bytes, dict[str, str], int, str]] = {
    "no content type": (
        "PUT",
        "/v1/targets",
        json.dumps(GOOD).encode(),
        {},
        415,
        "unsupported-media-type",
    ),
    "text/plain": (
        "PUT",
        "/v1/targets",
        b"{}",
        {"Content-Type": "text/plain"},
        415,
        "unsupported-media-type",
    ),
    "form": (
        "PUT",
        "/v1/targets",
        b"token=x",
        {"Content-Type": "application/x-www-form-urlencoded"},
        415,
        "unsupported-media-type",
    ),
    "empty body": ("PUT", "/v1/targets", b"", JSON, 400, "malformed-json"),
    "malformed JSON": ("PUT", "/v1/targets", b'{"token": ', JSON, 400, "malformed-json"),
    "not UTF-8": ("PUT", "/v1/targets", b'{"token": "\xff"}', JSON, 400, "malformed-json"),
    "lone surrogate": ("PUT", "/v1/targets", b'{"token": "\\ud800"}', JSON, 400, "malformed-json"),
    "array": ("PUT", "/v1/targets", b"[]", JSON, 422, "invalid-body"),
    "string": ("PUT", "/v1/targets", b'"token"', JSON, 422, "invalid-body"),
    "unknown field": (
        "PUT",
        "/v1/targets",
        json.dumps({**GOOD, "admin": True}).encode(),
        JSON,
        422,
        "invalid-body",
    ),
    "null": (
        "PUT",
        "/v1/targets",
        json.dumps({**GOOD, "device_label": None}).encode(),
        JSON,
        422,
        "invalid-body",
    ),
    "neither token nor fid": ("PUT", "/v1/targets", b"{}", JSON, 422, "invalid-body"),
    "token and fid": (
        "PUT",
        "/v1/targets",
        json.dumps({**GOOD, "fid": "fAbCdEfGhIjKlMnOpQrStU"}).encode(),
        JSON,
        422,
        "invalid-body",
    ),
    "token too short": ("PUT", "/v1/targets", b'{"token": "abc"}', JSON, 422, "invalid-body"),
    "token too long": (
        "PUT",
        "/v1/targets",
        json.dumps({"token": "a" * 1025}).encode(),
        JSON,
        422,
        "invalid-body",
    ),
    "token with spaces": (
        "PUT",
        "/v1/targets",
        json.dumps({"token": "a b" * 20}).encode(),
        JSON,
        422,
        "invalid-body",
    ),
    "fid of the wrong shape": (
        "PUT",
        "/v1/targets",
        b'{"fid": "AAAAAAAAAAAAAAAAAAAAAA"}',
        JSON,
        422,
        "invalid-body",
    ),
    "token as a number": ("PUT", "/v1/targets", b'{"token": 12345}', JSON, 422, "invalid-body"),
    "NUL in the label": (
        "PUT",
        "/v1/targets",
        json.dumps({**GOOD, "device_label": "a\u0000b"}).encode(),
        JSON,
        422,
        "invalid-body",
    ),
    "label too long": (
        "PUT",
        "/v1/targets",
        json.dumps({**GOOD, "device_label": "x" * 101}).encode(),
        JSON,
        422,
        "invalid-body",
    ),
    "unknown platform": (
        "PUT",
        "/v1/targets",
        json.dumps({**GOOD, "platform": "tv"}).encode(),
        JSON,
        422,
        "invalid-body",
    ),
    "body over the limit": (
        "PUT",
        "/v1/targets",
        json.dumps({"token": "a" * 20_000}).encode(),
        JSON,
        413,
        "body-too-large",
    ),
    "refresh without old": (
        "POST",
        "/v1/targets/refresh",
        json.dumps({"new": GOOD}).encode(),
        JSON,
        422,
        "invalid-body",
    ),
    "target id of the wrong shape": ("DELETE", "/v1/targets/not-an-id", b"", {}, 404, "not-found"),
    "unknown route": ("GET", "/v1/nothing", b"", {}, 404, "not-found"),
    "wrong method": ("PATCH", "/v1/targets", b"{}", JSON, 405, "method-not-allowed"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_requests_get_the_right_4xx_problem(offline_api: Client, case: str) -> None:
    method, path, body, headers, status, reason = CASES[case]
    response = await offline_api.request(
        method, path, data=body, headers={**as_user("alice"), **headers}
    )
    assert response.status == status
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert (problem["status"], problem["reason"]) == (status, reason)
    assert problem["type"].endswith(reason)
    assert problem["title"]
    assert problem["detail"]
    if status == 422:
        assert problem["errors"]
        assert all("loc" in e and "msg" in e for e in problem["errors"])
    if status == 405:
        assert "PUT" in response.headers["Allow"]


async def test_a_422_never_echoes_the_target(offline_api: Client) -> None:
    secret = fcm_token(7) + " "
    response = await offline_api.put("/v1/targets", json={"token": secret}, headers=as_user("a"))
    assert response.status == 422
    assert fcm_token(7) not in await response.text()


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    parts = urlsplit(database_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    yield proxy
    await proxy.stop()


def through(database_url: str, port: int) -> str:
    parts = urlsplit(database_url)
    netloc = f"{parts.username}:{parts.password}@127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


async def test_postgres_down_is_a_503_with_retry_after_and_the_service_recovers(
    database_url: str, pool: Pool, proxy: TcpProxy, bootstrap: str, namespace: str
) -> None:
    settings = make_settings(
        through(database_url, proxy.port),
        kafka_bootstrap=bootstrap,
        topic_namespace=namespace,
        db_timeout_s=1.0,
    )
    async with running(settings) as client:
        alice = as_user("alice")
        response = await client.put("/v1/targets", json={"token": fcm_token(1)}, headers=alice)
        assert response.status == 201

        await proxy.stop()
        for call in (
            client.put("/v1/targets", json={"token": fcm_token(2)}, headers=alice),
            client.get("/v1/targets", headers=alice),
        ):
            response = await call
            assert response.status == 503
            assert response.headers["Retry-After"] == "2"
            assert (await response.json())["reason"] == "database-unavailable"
        assert (await client.get("/readyz")).status == 503

        await proxy.start()
        assert (await client.get("/readyz")).status == 200
        response = await client.put("/v1/targets", json={"token": fcm_token(2)}, headers=alice)
        assert response.status == 201
        listed: Any = await (await client.get("/v1/targets", headers=alice)).json()
        assert len(listed["targets"]) == 2
        await drained(pool)
    latest = latest_sets(await token_sets(bootstrap, namespace))["alice"]
    assert latest is not None
    assert len(latest.tokens) == 2, "the relay reconnected too"
