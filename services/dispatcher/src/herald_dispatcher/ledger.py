"""Delivery keys: at most one notification per (notification, target) as the device shows it.

Before a send the key is claimed, if absent, as *pending* with a lease; after FCM's answer it
is settled with the outcome, or deleted when the send will be retried. A redelivered record
(crash, rebalance) finds the key: a settled one is reported again without sending; a pending
one whose lease is running belongs to a send still in flight elsewhere and is waited for; a
pending one whose lease ran out was interrupted, before or after its request left, so one
redelivery takes it over atomically and sends again. Every message carries its notification's
replace tag (``message.replace_tag``), so a device that got the interrupted send replaces it
rather than showing it twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

from redis.asyncio import Redis

from herald.v1 import deliveries_pb2, tokens_pb2


@dataclass(frozen=True, slots=True)
class Pending:
    lease_until_ms: int


@dataclass(frozen=True, slots=True)
class Settled:
    status: deliveries_pb2.DeliveryStatus
    fcm_name: str = ""
    error_code: deliveries_pb2.FcmErrorCode = deliveries_pb2.FCM_ERROR_CODE_UNSPECIFIED
    invalidation: tokens_pb2.InvalidationReason = tokens_pb2.INVALIDATION_REASON_UNSPECIFIED

    def encode(self) -> str:
        if self.status == deliveries_pb2.DELIVERY_STATUS_SENT:
            return f"s:{self.fcm_name}"
        return f"x:{int(self.status)}:{int(self.error_code)}:{int(self.invalidation)}"


Earlier = Pending | Settled


def decode(raw: bytes | str) -> Earlier:
    text = raw.decode() if isinstance(raw, bytes) else raw
    kind, _, rest = text.partition(":")
    if kind == "p":
        return Pending(int(rest))
    if kind == "s":
        return Settled(deliveries_pb2.DELIVERY_STATUS_SENT, fcm_name=rest)
    status, code, invalidation = (int(part) for part in rest.split(":"))
    return Settled(
        cast(deliveries_pb2.DeliveryStatus, status),
        error_code=cast(deliveries_pb2.FcmErrorCode, code),
        invalidation=cast(tokens_pb2.InvalidationReason, invalidation),
    )


def _pending(lease_until_ms: int) -> str:
    return f"p:{lease_until_ms}"


# KEYS: delivery keys; ARGV[1]: TTL (ms); ARGV[1 + i]: the lease for KEYS[i]. Returns per key
# '' when claimed, else the value found.
_CLAIM = """
local found = {}
for i, key in ipairs(KEYS) do
  local old = redis.call('GET', key)
  if old then
    found[i] = old
  else
    redis.call('SET', key, ARGV[i + 1], 'PX', ARGV[1])
    found[i] = ''
  end
end
return found
"""
# KEYS[1]: a delivery key; ARGV[1]: the lapsed lease seen; ARGV[2]: the new one; ARGV[3]: TTL
# (ms). Returns '' when taken over, else the value found (false when the key is gone).
_TAKE_OVER = """
local old = redis.call('GET', KEYS[1])
if old == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return ''
end
return old
"""
# KEYS: delivery keys; ARGV[1]: TTL (ms); ARGV[1 + i]: the outcome for KEYS[i].
_SETTLE = """
for i, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[i + 1], 'PX', ARGV[1])
end
return #KEYS
"""


@dataclass
class _Queue:
    keys: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    futures: list[asyncio.Future[Any]] = field(default_factory=list)

    def add(self, key: str, value: str = "") -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.keys.append(key)
        self.values.append(value)
        self.futures.append(future)
        return future


class Ledger:
    """Claims, outcomes and releases of concurrent deliveries go to Redis together: one
    pipeline in flight at a time, each kind of operation one command in it, so the busier the
    dispatcher, the more deliveries share a round trip."""

    def __init__(self, redis: Redis, *, ttl_s: int, lease_ms: int) -> None:
        self._redis = redis
        self._ttl_ms = ttl_s * 1000
        self._lease_ms = lease_ms
        self._claims = _Queue()
        self._settles = _Queue()
        self._releases = _Queue()
        self._peeks = _Queue()
        self._flushing: asyncio.Task[None] | None = None

    async def claim(self, key: str, now_ms: int) -> Earlier | None:
        """None when this caller may send; otherwise what an earlier attempt left."""
        found = await self._enqueue(self._claims, key, _pending(now_ms + self._lease_ms))
        return decode(found) if found else None

    async def take_over(self, key: str, lapsed: Pending, now_ms: int) -> Earlier | None:
        """Claim a key whose lease ran out: None when this caller may send again; otherwise
        what the key holds now (another redelivery took it over first, or it was settled).
        Only after a crash, so not batched."""
        found = await self._redis.eval(
            _TAKE_OVER,
            1,
            key,
            _pending(lapsed.lease_until_ms),
            _pending(now_ms + self._lease_ms),
            self._ttl_ms,
        )
        if found is None:
            # Released meanwhile: claim it the ordinary way.
            return await self.claim(key, now_ms)
        return decode(found) if found else None

    def settle_soon(self, key: str, outcome: Settled) -> asyncio.Future[Any]:
        """Queue the outcome and return at once; the future resolves once Redis has it. The
        caller must await it before committing the record the delivery came from."""
        return self._enqueue(self._settles, key, outcome.encode())

    async def peek(self, key: str) -> Earlier | None:
        found = await self._enqueue(self._peeks, key)
        return None if found is None else decode(found)

    async def release(self, key: str) -> None:
        """Forget the key, so a retry may claim it."""
        await self._enqueue(self._releases, key)

    def _enqueue(self, queue: _Queue, key: str, value: str = "") -> asyncio.Future[Any]:
        future = queue.add(key, value)
        if self._flushing is None:
            self._flushing = asyncio.ensure_future(self._flush())
        return future

    async def _flush(self) -> None:
        try:
            while (
                self._claims.keys or self._settles.keys or self._releases.keys or self._peeks.keys
            ):
                await self._round_trip()
        finally:
            self._flushing = None

    async def _round_trip(self) -> None:
        claims, self._claims = self._claims, _Queue()
        settles, self._settles = self._settles, _Queue()
        releases, self._releases = self._releases, _Queue()
        peeks, self._peeks = self._peeks, _Queue()
        pipe = self._redis.pipeline(transaction=False)
        sent: list[tuple[_Queue, bool]] = []
        if claims.keys:
            pipe.eval(_CLAIM, len(claims.keys), *claims.keys, self._ttl_ms, *claims.values)
            sent.append((claims, True))
        if settles.keys:
            pipe.eval(_SETTLE, len(settles.keys), *settles.keys, self._ttl_ms, *settles.values)
            sent.append((settles, False))
        if releases.keys:
            pipe.delete(*releases.keys)
            sent.append((releases, False))
        if peeks.keys:
            pipe.mget(peeks.keys)
            sent.append((peeks, True))
        try:
            results = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            results = [exc] * len(sent)
        for (queue, per_key), result in zip(sent, results, strict=True):
            for index, future in enumerate(queue.futures):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result[index] if per_key else None)
