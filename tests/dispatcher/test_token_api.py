"""With the token-api running: a target FCM calls UNREGISTERED leaves the user's row set, and
the next notification reaches only the live targets."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from dispatcher.conftest import StartDispatcher
from dispatcher.support import PROJECT, due, issue, publish_due, reports, until
from redis.asyncio import Redis

from fcm_emulator.client import EmulatorClient
from herald import topics
from herald.producer import Producer
from herald.v1 import deliveries_pb2, tokens_pb2
from herald_dispatcher.keys import Keys
from herald_token_api.app import create_app
from herald_token_api.migrate import migrate
from herald_token_api.settings import TokenApiSettings
from kit.kafka import read_topic

SECRET = "dispatcher-test-secret-0123456789abcdef"
ISSUER = "https://auth.dispatcher-test.herald.example/"
AUDIENCE = "herald-token-api"


@pytest.fixture(scope="module")
async def database_url() -> AsyncIterator[str]:
    """A PostgreSQL database of this module's own, migrated, dropped afterwards."""
    admin_url = TokenApiSettings().database_url.get_secret_value()
    name = f"herald_dispatch_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    connection = await asyncpg.connect(url)
    try:
        await migrate(connection)
    finally:
        await connection.close()
    yield url
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def token_api(
    database_url: str, bootstrap: str, namespace: str
) -> AsyncIterator[TestClient[Any, Any]]:
    settings = TokenApiSettings(
        database_url=database_url,  # type: ignore[arg-type]
        kafka_bootstrap=bootstrap,
        topic_namespace=namespace,
        jwt_hs256_secret=SECRET,  # type: ignore[arg-type]
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        migrate_on_start=False,
        relay_poll_interval_s=0.5,
        shutdown_grace_s=5.0,
    )
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client:
        yield client


def as_user(user_id: str) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": user_id, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


async def published_set(bootstrap: str, namespace: str, user_id: str, size: int) -> None:
    """Wait until the token-api published ``user_id``'s set with ``size`` targets."""

    async def published() -> bool:
        records = await read_topic(bootstrap, namespace + topics.TOKENS.name, 100, timeout_s=0.5)
        latest = [r for r in records if r.key == user_id.encode()]
        return bool(latest) and len(tokens_pb2.TokenSet.FromString(latest[-1].value).tokens) == size

    await until(published, f"the token-api publishes {user_id}'s {size} targets")


async def test_an_unregistered_target_is_deleted_by_the_token_api_and_skipped_afterwards(
    bootstrap: str,
    namespace: str,
    fcm: EmulatorClient,
    redis: Redis,
    token_api: TestClient[Any, Any],
    producer: Producer,
    start_dispatcher: StartDispatcher,
) -> None:
    live, dead = await issue(fcm), await issue(fcm)
    for issued in (live, dead):
        body = {"token": issued.target, "project_id": PROJECT, "device_label": "Firefox"}
        response = await token_api.put("/v1/targets", json=body, headers=as_user("zoe"))
        assert response.status == 201, await response.text()
    await published_set(bootstrap, namespace, "zoe", 2)
    await fcm.unregister_target(dead.target)
    await start_dispatcher()
    await publish_due(producer, due("n-1", "zoe"))

    first = {r.target.value: r.status for r in await reports(bootstrap, namespace, 2)}
    assert first == {
        live.target: deliveries_pb2.DELIVERY_STATUS_SENT,
        dead.target: deliveries_pb2.DELIVERY_STATUS_INVALID_TARGET,
    }

    async def dead_row_deleted() -> bool:
        listed = await token_api.get("/v1/targets", headers=as_user("zoe"))
        return len((await listed.json())["targets"]) == 1

    async def projection_follows() -> bool:
        raw = await redis.hget(Keys(namespace).targets("zoe"), "s")
        return isinstance(raw, bytes) and len(tokens_pb2.TokenSet.FromString(raw).tokens) == 1

    await until(dead_row_deleted, "the token-api deletes the dead target")
    await until(projection_follows, "the dispatcher's projection drops it too")
    await publish_due(producer, due("n-2", "zoe"))

    later = [r for r in await reports(bootstrap, namespace, 3) if r.notification_id == "n-2"]
    assert [(r.target.value, r.status) for r in later] == [
        (live.target, deliveries_pb2.DELIVERY_STATUS_SENT)
    ]
    assert len(await fcm.messages(target=dead.target)) == 1
