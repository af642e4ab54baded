"""Helpers for the token-api tests: JWTs, the app in-process, reading what the relay published."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import jwt
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer, TopicPartition

from herald import topics
from herald.v1 import tokens_pb2
from herald_token_api.app import create_app
from herald_token_api.db import Pool
from herald_token_api.settings import TokenApiSettings

SECRET = "token-api-test-secret-0123456789abcdef"
ISSUER = "https://auth.test.herald.example/"
AUDIENCE = "herald-token-api"
SERVICE_KEY = "service-key-0123456789"
# Nothing listens here: a Kafka that is down.
NO_KAFKA = "127.0.0.1:1"

Client = TestClient[Any, Any]


def make_settings(database_url: str, **overrides: Any) -> TokenApiSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap": NO_KAFKA,
        "jwt_hs256_secret": SECRET,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "service_api_keys": f"other-key-abcdef,{SERVICE_KEY}",
        "connect_attempts": 1,
        "connect_retry_delay_s": 0.2,
        "relay_poll_interval_s": 0.5,
        "shutdown_grace_s": 5.0,
        "db_pool_min_size": 1,
        "db_pool_max_size": 8,
    }
    values.update(overrides)
    return TokenApiSettings(**values)


@asynccontextmanager
async def running(settings: TokenApiSettings) -> AsyncIterator[Client]:
    """The app on 127.0.0.1 (a free port) with a client for it; shut down gracefully after."""
    server = TestServer(create_app(settings), host="127.0.0.1")
    async with TestClient(server) as client:
        yield client


def token(
    sub: str,
    *,
    key: Any = SECRET,
    algorithm: str = "HS256",
    issuer: str = ISSUER,
    audience: str = AUDIENCE,
    expires_in_s: float = 3600,
    headers: Mapping[str, Any] | None = None,
    **claims: Any,
) -> str:
    """A signed JWT. Parametrized tests mint theirs at collection time, which can be many
    minutes before they run, so the default lifetime outlasts a whole test session."""
    now = int(time.time())
    payload = {"sub": sub, "iss": issuer, "aud": audience, "iat": now, "exp": now + expires_in_s}
    payload.update(claims)
    return jwt.encode(payload, key, algorithm=algorithm, headers=dict(headers or {}))


def as_user(sub: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub)}"}


AS_SERVICE = {"X-Herald-Service-Key": SERVICE_KEY}


def fcm_token(n: int | str) -> str:
    """A well-formed registration token, distinct per ``n``."""
    return f"cAbCdEfGhIjKlMnOpQrStU:APA91b{str(n).rjust(8, '0')}{'x' * 120}"


async def outbox_rows(pool: Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM token_outbox")
    return count


async def count_targets(pool: Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM push_tokens")
    return count


async def until(predicate: Callable[[], Awaitable[bool]], timeout_s: float = 20.0) -> None:
    """Wait until the async ``predicate()`` is true; fail the test when it never is."""
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        assert time.monotonic() < deadline, f"condition not met within {timeout_s}s"
        await asyncio.sleep(0.05)


async def drained(pool: Pool, timeout_s: float = 20.0) -> None:
    """Wait until the relay published and deleted every outbox row."""

    async def empty() -> bool:
        return await outbox_rows(pool) == 0

    await until(empty, timeout_s)


async def read_all(bootstrap: str, namespace: str, topic: topics.Topic) -> list[Any]:
    """Every record of the namespaced ``topic`` up to its current end, in partition order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(namespace + topic.name, p) for p in range(topic.partitions)]
        consumer.assign(tps)
        starts = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        records: list[Any] = []
        deadline = time.monotonic() + 20
        for tp in tps:
            consumer.seek(tp, starts[tp])
            next_offset = starts[tp]
            while next_offset < ends[tp]:
                assert time.monotonic() < deadline, "could not read the topic to its end"
                batch = await consumer.getmany(tp, timeout_ms=200)
                for record in batch.get(tp, []):
                    records.append(record)
                    next_offset = record.offset + 1
        return records
    finally:
        await consumer.stop()


async def token_sets(bootstrap: str, namespace: str) -> list[Any]:
    return await read_all(bootstrap, namespace, topics.TOKENS)


def latest_sets(records: list[Any]) -> dict[str, tokens_pb2.TokenSet | None]:
    """The last TokenSet (None for a tombstone) per user key."""
    latest: dict[str, tokens_pb2.TokenSet | None] = {}
    for record in records:
        key = record.key.decode()
        latest[key] = None if record.value is None else tokens_pb2.TokenSet.FromString(record.value)
    return latest
