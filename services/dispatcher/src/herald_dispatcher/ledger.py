"""Delivery keys: at most one notification per (notification, target) as the device shows it.

Before a send the key is claimed, if absent, as *pending* with a lease; after FCM's answer it
is settled with the outcome, or deleted when the send will be retried. The claim is made before
the delivery waits for an in-flight slot, so its round trip overlaps the sends ahead of it; a
claim that waited longer than ``RENEW_AFTER_MS`` renews its lease before the request leaves, so
the lease still covers the send. A redelivered record (crash, rebalance) finds the key: a
settled one is reported again without sending; a pending one whose lease is running belongs to
a send still in flight elsewhere and is waited for; a pending one whose lease ran out was
interrupted, before or after its request left, so one redelivery takes it over atomically and
sends again. Every message carries its notification's replace tag (``message.replace_tag``), so
a device that got the interrupted send replaces it rather than showing it twice.

Each claim writes a value of its own (the lease and a claim id). redis-py runs a command again
when the connection broke before its answer came (a Redis restart): a claim that then finds its
own value was applied the first time, and is this caller's. A claim that finds a value this
process wrote for a delivery that has since ended without settling or releasing it (its batch
failed on a Redis error, say, and is being handled again) need not wait out the lease either:
nothing still holds it, so it is taken over at once, as a lapsed one would be.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from dataclasses import dataclass, field
from typing import Any, cast

from redis.asyncio import Redis

from herald.v1 import deliveries_pb2, tokens_pb2


@dataclass(frozen=True, slots=True)
class Pending:
    lease_until_ms: int
    # The key's value as found, compared by a take-over.
    raw: str = field(default="", compare=False)


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
    text = _text(raw)
    kind, _, rest = text.partition(":")
    if kind == "p":
        return Pending(_lease_until_ms(text), text)
    if kind == "s":
        return Settled(deliveries_pb2.DELIVERY_STATUS_SENT, fcm_name=rest)
    status, code, invalidation = (int(part) for part in rest.split(":"))
    return Settled(
        cast(deliveries_pb2.DeliveryStatus, status),
        error_code=cast(deliveries_pb2.FcmErrorCode, code),
        invalidation=cast(tokens_pb2.InvalidationReason, invalidation),
    )


# A claim held this long before its send is renewed first (the lease is the send timeout + 2 s).
RENEW_AFTER_MS = 1000
_CLAIM_IDS = itertools.count()
_PROCESS_ID = os.urandom(6).hex()


def _lease_until_ms(pending: str) -> int:
    """The lease of a pending value, ``p:<lease until, ms>:<claim id>``."""
    return int(pending.split(":", 2)[1])


def _of_this_process(value: str) -> bool:
    return value.split(":", 2)[-1].startswith(_PROCESS_ID)


def _pending(lease_until_ms: int) -> str:
    """A pending value no other claim writes: the lease, then this process's and claim's id."""
    return f"p:{lease_until_ms}:{_PROCESS_ID}{next(_CLAIM_IDS):x}"


# One call for every operation queued meanwhile, in their order. KEYS: delivery keys; ARGV[1]:
# TTL (ms); ARGV[2]: one letter per key, c = claim, k = keep, s = settle, r = release, p = peek;
# ARGV[2 + i]: the lease or outcome for KEYS[i] (for a keep, the value held, a space, the renewed
# one). Returns per key: for a claim '' when claimed, else the value found; for a keep '' when
# renewed, else the value found (nil when absent); for a peek the value (nil when absent); else ''.
_OPERATE = """
local ops = ARGV[2]
local found = {}
for i, key in ipairs(KEYS) do
  local op = string.sub(ops, i, i)
  if op == 'c' then
    local old = redis.call('GET', key)
    if old then
      found[i] = old
    else
      redis.call('SET', key, ARGV[i + 2], 'PX', ARGV[1])
      found[i] = ''
    end
  elseif op == 'k' then
    local held, renewed = string.match(ARGV[i + 2], '^(%S+) (%S+)$')
    local old = redis.call('GET', key)
    if old == held then
      redis.call('SET', key, renewed, 'PX', ARGV[1])
      found[i] = ''
    else
      found[i] = old
    end
  elseif op == 's' then
    redis.call('SET', key, ARGV[i + 2], 'PX', ARGV[1])
    found[i] = ''
  elseif op == 'r' then
    redis.call('DEL', key)
    found[i] = ''
  else
    found[i] = redis.call('GET', key)
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


class _Round:
    """Operations that go to Redis in one script call; every caller awaits ``done`` and takes
    its own entry of the result."""

    __slots__ = ("done", "keys", "ops", "values")

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.ops: list[str] = []
        self.values: list[str] = []
        self.done: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()

    def add(self, op: str, key: str, value: str) -> int:
        self.keys.append(key)
        self.ops.append(op)
        self.values.append(value)
        return len(self.keys) - 1


class Ledger:
    """Claims, renewals, outcomes, releases and peeks of concurrent deliveries go to Redis
    together: one script call in flight at a time with everything queued meanwhile, so the
    busier the dispatcher, the more deliveries share a round trip."""

    def __init__(self, redis: Redis, *, ttl_s: int, lease_ms: int) -> None:
        self._redis = redis
        self._ttl_ms = ttl_s * 1000
        self._lease_ms = lease_ms
        self._operate = redis.register_script(_OPERATE)
        self._round: _Round | None = None
        self._flushing: asyncio.Task[None] | None = None
        # The pending values of this process's deliveries still running, by key.
        self._running: dict[str, str] = {}

    async def claim(self, key: str, now_ms: int) -> Earlier | None:
        """None when this caller may send; otherwise what an earlier attempt left."""
        value = _pending(now_ms + self._lease_ms)
        done, index = self._enqueue("c", key, value)
        return self._held(key, value, (await done)[index])

    async def keep(self, key: str, now_ms: int) -> Earlier | None:
        """Right before the send of a key this caller claimed: None when it is still this
        caller's, its lease renewed if the claim is older than ``RENEW_AFTER_MS``; otherwise
        what the key holds now (another redelivery took it over after the lease ran out)."""
        held = self._running[key]
        if _lease_until_ms(held) - now_ms > self._lease_ms - RENEW_AFTER_MS:
            return None
        renewed = _pending(now_ms + self._lease_ms)
        done, index = self._enqueue("k", key, f"{held} {renewed}")
        found = (await done)[index]
        if found is None:
            # Gone while claimed (Redis lost it): claim it the ordinary way.
            return await self.claim(key, now_ms)
        return self._held(key, renewed, found)

    def abandoned(self, key: str, earlier: Pending) -> bool:
        """Whether ``earlier`` is a claim of this process whose delivery ended (``finished``)
        without settling or releasing the key."""
        return _of_this_process(earlier.raw) and self._running.get(key) != earlier.raw

    def finished(self, key: str) -> None:
        """The delivery that claimed ``key`` in this process ended, however it ended."""
        self._running.pop(key, None)

    async def take_over(self, key: str, lapsed: Pending, now_ms: int) -> Earlier | None:
        """Claim a key whose lease ran out (or that this process abandoned): None when this
        caller may send again; otherwise what the key holds now (another redelivery took it
        over first, or it was settled). Only after a failure, so not batched."""
        value = _pending(now_ms + self._lease_ms)
        found = await self._redis.eval(
            _TAKE_OVER, 1, key, lapsed.raw or _pending(lapsed.lease_until_ms), value, self._ttl_ms
        )
        if found is None:
            # Released meanwhile: claim it the ordinary way.
            return await self.claim(key, now_ms)
        return self._held(key, value, found)

    def _held(self, key: str, value: str, found: bytes | str) -> Earlier | None:
        """After writing ``value`` if the key allowed it: None when the key holds ``value`` (''
        answered, or ``value`` found because redis-py ran the call again after its answer was
        lost); otherwise what the key holds."""
        if not found or _text(found) == value:
            self._running[key] = value
            return None
        return decode(found)

    def settle_soon(self, key: str, outcome: Settled) -> asyncio.Future[Any]:
        """Queue the outcome and return at once; the future resolves once Redis has it (it is
        shared with the other operations of the same round trip). The caller must await it
        before committing the record the delivery came from."""
        done, _ = self._enqueue("s", key, outcome.encode())
        return done

    async def peek(self, key: str) -> Earlier | None:
        done, index = self._enqueue("p", key, "")
        found = (await done)[index]
        return None if found is None else decode(found)

    async def release(self, key: str) -> None:
        """Forget the key, so a retry may claim it."""
        done, _ = self._enqueue("r", key, "")
        await done

    def _enqueue(self, op: str, key: str, value: str) -> tuple[asyncio.Future[list[Any]], int]:
        if self._round is None:
            self._round = _Round()
        round_ = self._round
        index = round_.add(op, key, value)
        if self._flushing is None:
            self._flushing = asyncio.ensure_future(self._flush())
        return round_.done, index

    async def _flush(self) -> None:
        try:
            while self._round is not None:
                round_, self._round = self._round, None
                await self._round_trip(round_)
        finally:
            self._flushing = None

    async def _round_trip(self, round_: _Round) -> None:
        try:
            result = await self._operate(
                keys=round_.keys, args=[self._ttl_ms, "".join(round_.ops), *round_.values]
            )
        except Exception as exc:
            if not round_.done.done():
                round_.done.set_exception(exc)
            # Retrieved here: a round of settles only may have no one awaiting it yet.
            round_.done.exception()
            return
        if not round_.done.done():
            round_.done.set_result(result)


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
