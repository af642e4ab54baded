"""A token bucket per FCM project in Redis, shared by every dispatcher replica.

The bucket refills at ``rate_per_minute``; when it is created (first use, or after it was idle
for ``idle_reset_s``) its rate and size start at 1/ramp of full and climb linearly to full over
``ramp_up_s``, as FCM asks of new senders. A QUOTA_EXCEEDED answer blocks the bucket until the
Retry-After has passed, for all replicas. Each process takes tokens in small grants (about 50 ms
of the rate, at most what its waiting sends need), so Redis sees one call per grant, not per
message.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from herald_dispatcher import metrics
from herald_dispatcher.keys import Keys
from herald_dispatcher.timing import sleep_unless

_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local ramp = tonumber(ARGV[3])
local requested = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'started', 'blocked')
local started = tonumber(state[3]) or now
local share = 1
if ramp > 0 then share = math.max(1000 / ramp, math.min(1, (now - started) / ramp)) end
local cap = math.max(1, capacity * share)
local tokens = tonumber(state[1])
if tokens == nil then
  tokens = cap
else
  tokens = math.min(cap, tokens + (now - (tonumber(state[2]) or now)) * rate * share)
end
local blocked = tonumber(state[4]) or 0
local granted = 0
local wait = 0
if blocked > now then
  wait = blocked - now
else
  granted = math.min(requested, math.floor(tokens))
  tokens = tokens - granted
  if granted == 0 then wait = math.ceil((1 - tokens) / (rate * share)) end
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now, 'started', started,
  'blocked', blocked)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {granted, wait}
"""

_BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local blocked = tonumber(redis.call('HGET', KEYS[1], 'blocked')) or 0
if until_ms > blocked then redis.call('HSET', KEYS[1], 'blocked', until_ms) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return until_ms
"""


@dataclass
class _Local:
    tokens: int = 0
    waiting: int = 0
    # The grant being asked for: every send without a token awaits this one call, and all of
    # them go on in the same turn of the event loop once it is in (not one per turn, as behind
    # a lock, which held 500 waiting sends for tens of milliseconds per grant).
    refill: asyncio.Future[bool] | None = None


class RateLimiter:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        *,
        rate_per_minute: int,
        burst_s: float,
        ramp_up_s: float,
        idle_reset_s: float,
    ) -> None:
        self._keys = keys
        self._rate_per_ms = rate_per_minute / 60_000
        self._capacity = max(1.0, rate_per_minute / 60 * burst_s)
        self._ramp_ms = int(ramp_up_s * 1000)
        self._idle_ms = int(max(idle_reset_s, ramp_up_s) * 1000)
        self._max_grant = max(1, int(rate_per_minute / 60 * 0.05))
        self._take = redis.register_script(_TAKE)
        self._block = redis.register_script(_BLOCK)
        self._local: dict[str, _Local] = {}

    async def acquire(self, project: str, stop: asyncio.Event, *, queued: int = 0) -> bool:
        """Take one send's token; False when ``stop`` was set while waiting for it. ``queued``:
        how many more sends to ``project`` are about to ask (asked for in the same call)."""
        local = self._local.get(project)
        if local is None:
            local = self._local[project] = _Local()
        while local.tokens <= 0:
            refill = local.refill
            if refill is None:
                refill = local.refill = asyncio.ensure_future(
                    self._refill(project, local, queued, stop)
                )
                refill.add_done_callback(_retrieve)
            local.waiting += 1
            try:
                # Shielded: a waiter cancelled on shutdown leaves the call to the others.
                if not await asyncio.shield(refill):
                    return False
            finally:
                local.waiting -= 1
        local.tokens -= 1
        return True

    async def _refill(self, project: str, local: _Local, queued: int, stop: asyncio.Event) -> bool:
        """Tokens for the sends waiting (and ``queued``) from the shared bucket, waiting as long
        as it is empty: True once some were granted, False when ``stop`` was set."""
        try:
            while True:
                requested = min(local.waiting + queued, self._max_grant)
                granted, wait_ms = await self._take(
                    keys=[self._keys.rate_bucket(project)],
                    args=[
                        self._rate_per_ms,
                        self._capacity,
                        self._ramp_ms,
                        max(1, requested),
                        self._idle_ms,
                    ],
                )
                if granted:
                    local.tokens += int(granted)
                    return True
                metrics.LIMITER_WAITS.labels(project).inc()
                started = time.monotonic()
                stopped = await sleep_unless(stop, int(wait_ms) / 1000)
                metrics.LIMITER_WAIT_SECONDS.labels(project).inc(time.monotonic() - started)
                if stopped:
                    return False
        finally:
            local.refill = None

    async def block(self, project: str, delay_s: float) -> None:
        """Hold every replica's sends to ``project`` for ``delay_s`` (after QUOTA_EXCEEDED)."""
        local = self._local.get(project)
        if local is not None:
            local.tokens = 0
        await self._block(
            keys=[self._keys.rate_bucket(project)], args=[int(delay_s * 1000), self._idle_ms]
        )


def _retrieve(refill: asyncio.Future[bool]) -> None:
    """Mark a failed call's error as seen: its waiters may all have been cancelled."""
    if not refill.cancelled():
        refill.exception()
