"""The two timed loops of the token-api benchmark: new registrations through its HTTP API (a new
user with a new target each, as browsers signing up would), and the raw asyncpg upsert of the
same rows, the floor any service writing that table can reach."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import asyncpg  # type: ignore[import-untyped,unused-ignore]
import jwt

POOL_SIZE = 16
RAW_UPSERT = (
    "INSERT INTO push_tokens (target, target_id, kind, user_id, platform)"
    " VALUES ($1, $2, 'token', $3, 'web')"
    " ON CONFLICT (target) DO UPDATE SET last_seen_at = now()"
)


@dataclass(frozen=True)
class Timed:
    count: int
    elapsed_s: float
    latencies_s: list[float]


def target(run: str, n: int) -> str:
    return f"cAbCdEfGhIjKlMnOpQrStU:APA91b{run}{n:010d}{'b' * 110}"


async def timed(count: int, concurrency: int, call: Callable[[int], Awaitable[None]]) -> Timed:
    latencies: list[float] = []
    queue = iter(range(count))

    async def worker() -> None:
        for n in queue:
            started = time.perf_counter()
            await call(n)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Timed(count, time.perf_counter() - started, latencies)


async def api_loop(
    base_url: str, count: int, concurrency: int, auth: tuple[str, str, str]
) -> Timed:
    """``count`` PUT /v1/targets, each for a new user, ``concurrency`` at a time."""
    secret, issuer, audience = auth
    run = uuid.uuid4().hex[:8]
    exp = int(time.time()) + 3600
    headers = [
        {
            "Authorization": "Bearer "
            + jwt.encode(
                {"sub": f"user-{run}-{n}", "iss": issuer, "aud": audience, "exp": exp},
                secret,
                algorithm="HS256",
            )
        }
        for n in range(count)
    ]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url, connector=connector) as session:

        async def register(n: int) -> None:
            body = {"token": target(run, n), "device_label": "bench"}
            async with session.put("/v1/targets", json=body, headers=headers[n]) as response:
                if response.status != 201:
                    raise RuntimeError(f"{response.status}: {await response.text()}")

        return await timed(count, concurrency, register)


async def raw_loop(database_url: str, count: int, concurrency: int) -> Timed:
    run = uuid.uuid4().hex[:8]
    pool = await asyncpg.create_pool(database_url, min_size=POOL_SIZE, max_size=POOL_SIZE)
    try:

        async def upsert(n: int) -> None:
            await pool.execute(RAW_UPSERT, target(run, n), uuid.uuid4().hex, f"raw-{run}-{n}")

        return await timed(count, concurrency, upsert)
    finally:
        await pool.close()
