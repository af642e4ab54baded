"""Delivery keys in Redis: the operations of concurrent deliveries share one script call, in the
order they were asked for, and each caller gets its own answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis

from herald.v1 import deliveries_pb2
from herald_dispatcher.ledger import RENEW_AFTER_MS, Ledger, Pending, Settled

NOW_MS = 1_790_000_000_000
SENT = Settled(deliveries_pb2.DELIVERY_STATUS_SENT, "projects/p/messages/1")


async def test_concurrent_claims_share_a_round_trip_and_get_their_own_answer(
    redis: Redis,
) -> None:
    ledger = Ledger(redis, ttl_s=60, lease_ms=12_000)
    await ledger.settle_soon("k-settled", SENT)
    calls = _count_round_trips(ledger)

    # Asked in one go: one claim per key, a second claim of k-1 behind the first, a peek.
    first, second, again, settled, peeked = await asyncio.gather(
        ledger.claim("k-1", NOW_MS),
        ledger.claim("k-2", NOW_MS),
        ledger.claim("k-1", NOW_MS + 5),
        ledger.claim("k-settled", NOW_MS),
        ledger.peek("k-absent"),
    )
    assert (first, second) == (None, None)
    assert again == Pending(NOW_MS + 12_000)
    assert settled == SENT
    assert peeked is None
    assert calls == [1]

    # A settlement and a release queued together; then the keys hold what they were given.
    settling = ledger.settle_soon("k-1", SENT)
    await asyncio.gather(settling, ledger.release("k-2"))
    assert await ledger.peek("k-1") == SENT
    assert await ledger.claim("k-2", NOW_MS) is None
    assert 0 < await redis.pttl("k-1") <= 60_000


async def test_a_claim_this_process_left_behind_is_taken_over_without_waiting(
    redis: Redis,
) -> None:
    ledger = Ledger(redis, ttl_s=60, lease_ms=12_000)
    assert await ledger.claim("k", NOW_MS) is None
    held = await ledger.claim("k", NOW_MS + 5)
    assert isinstance(held, Pending)
    # Its delivery is still running: it is waited for.
    assert not ledger.abandoned("k", held)

    # Its delivery ended without settling or releasing the key (its batch failed).
    ledger.finished("k")
    assert ledger.abandoned("k", held)
    assert await ledger.take_over("k", held, NOW_MS + 10) is None

    # Another process's claim is waited for (until its lease runs out).
    await redis.set("k-other", f"p:{NOW_MS + 12_000}:0123456789ab0", px=60_000)
    other = await ledger.claim("k-other", NOW_MS)
    assert isinstance(other, Pending)
    assert not ledger.abandoned("k-other", other)


async def test_a_claim_that_waited_for_its_send_renews_its_lease_first(redis: Redis) -> None:
    ledger = Ledger(redis, ttl_s=60, lease_ms=12_000)
    other = Ledger(redis, ttl_s=60, lease_ms=12_000)
    assert await ledger.claim("k", NOW_MS) is None
    calls = _count_round_trips(ledger)

    # Sent soon after its claim: the lease is left as it is, without a round trip.
    assert await ledger.keep("k", NOW_MS + RENEW_AFTER_MS - 1) is None
    assert calls == [0]
    # Sent later: the lease runs from now, and the key is still this caller's.
    assert await ledger.keep("k", NOW_MS + 5_000) is None
    assert calls == [1]
    held = await other.claim("k", NOW_MS + 5_000)
    assert held == Pending(NOW_MS + 5_000 + 12_000)
    assert not ledger.abandoned("k", held)

    # Waited past its lease, and another redelivery took the key over: not this caller's.
    assert await ledger.claim("k-late", NOW_MS) is None
    lapsed = await other.claim("k-late", NOW_MS + 13_000)
    assert isinstance(lapsed, Pending)
    assert await other.take_over("k-late", lapsed, NOW_MS + 13_000) is None
    assert await ledger.keep("k-late", NOW_MS + 13_000) == Pending(NOW_MS + 25_000)

    # Lost from Redis while claimed: claimed again.
    assert await ledger.claim("k-lost", NOW_MS) is None
    await redis.delete("k-lost")
    assert await ledger.keep("k-lost", NOW_MS + 2_000) is None
    assert await other.claim("k-lost", NOW_MS + 2_000) == Pending(NOW_MS + 14_000)


async def test_a_failed_round_trip_fails_every_operation_in_it(redis: Redis) -> None:
    ledger = Ledger(redis, ttl_s=60, lease_ms=12_000)
    await redis.hset("k-hash", "f", "v")  # GET on a hash: Redis refuses the whole script
    claims = asyncio.gather(
        ledger.claim("k-1", NOW_MS), ledger.claim("k-hash", NOW_MS), return_exceptions=True
    )
    settling = ledger.settle_soon("k-2", SENT)
    results = await claims
    assert all(isinstance(result, Exception) for result in results)
    with pytest.raises(Exception, match="WRONGTYPE"):
        await settling
    # The next round trip works again.
    assert await ledger.claim("k-3", NOW_MS) is None


def _count_round_trips(ledger: Ledger) -> list[int]:
    """A one-element list counting the ledger's script calls from now on."""
    calls = [0]
    operate = ledger._operate

    async def counted(**kwargs: Any) -> Any:
        calls[0] += 1
        return await operate(**kwargs)

    ledger._operate = counted  # type: ignore[assignment]
    return calls


class _ReplyDropper:
    """A TCP proxy to Redis that, when armed, drops the connection instead of passing on the
    next answer: the command was applied, its caller hears nothing (a Redis restart's timing)."""

    def __init__(self, port: int) -> None:
        self._port = port
        self.armed = False
        self.dropped = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._port)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, up: bool) -> None:
            while data := await source.read(65536):
                if not up and self.armed:
                    self.armed = False
                    self.dropped += 1
                    writer.transport.abort()
                    up_writer.close()
                    return
                sink.write(data)
            sink.close()

        await asyncio.gather(
            pipe(reader, up_writer, True), pipe(up_reader, writer, False), return_exceptions=True
        )


async def test_a_claim_whose_answer_was_lost_is_still_the_callers(redis: Redis) -> None:
    kwargs = redis.connection_pool.connection_kwargs
    dropper = _ReplyDropper(int(kwargs["port"]))
    port = await dropper.start()
    through = Redis(host="127.0.0.1", port=port, db=int(kwargs.get("db", 0)))
    try:
        ledger = Ledger(through, ttl_s=60, lease_ms=12_000)
        assert await ledger.claim("k-warm", NOW_MS) is None  # the script is loaded

        dropper.armed = True
        # Applied, answer lost; redis-py runs it again and finds this claim's own value.
        assert await ledger.claim("k-1", NOW_MS) is None
        assert dropper.dropped == 1
        # Anyone else's claim still finds it pending.
        assert await Ledger(redis, ttl_s=60, lease_ms=12_000).claim("k-1", NOW_MS) == Pending(
            NOW_MS + 12_000
        )
    finally:
        await through.aclose()
        await dropper.close()
