"""The outbox relay: publishes each outbox row to herald.tokens.v1 (key user_id, tombstone for an
empty set) and deletes it after Kafka's ack. One replica relays at a time (a session advisory
lock); it wakes on NOTIFY and polls slowly as a fallback. A row whose send failed stays, and so
do the later rows of the same user, so a user's sets are published in commit order.

Writers send the NOTIFY only while the relay says it is idle (see migrations/0001): a NOTIFY
makes commits queue on a global lock, so a busy relay polls instead of being woken."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiokafka.producer.message_accumulator import BatchBuilder
from prometheus_client import Counter, Gauge

from herald import topics
from herald.codec import encode, type_name
from herald.producer import Producer
from herald.tracing import new_trace_id
from herald_token_api import db, outbox
from herald_token_api.kafka import KafkaLink, wait_or_stop
from herald_token_api.names import OUTBOX_CHANNEL, RELAY_LOCK
from herald_token_api.settings import TokenApiSettings

log = logging.getLogger(__name__)
Header = tuple[str, bytes]

# While changes keep coming the relay polls every BUSY_POLL_S, and goes idle (to be woken by a
# NOTIFY) only after BUSY_LINGER_S without any: writers then rarely pay for a NOTIFY.
BUSY_POLL_S = 0.02
BUSY_LINGER_S = 1.0
# After going idle, one more look this much later: longer than a write transaction usually takes.
IDLE_GRACE_S = 0.2

PUBLISHED = Counter(
    "herald_token_api_outbox_published_total", "Token-set changes published to Kafka."
)
BACKLOG = Gauge("herald_token_api_outbox_backlog", "Token-set changes waiting in the outbox.")
LAG = Gauge(
    "herald_token_api_relay_lag_seconds",
    "Age of the oldest token-set change not yet published (0 when none waits).",
)


class Relay:
    def __init__(self, settings: TokenApiSettings, kafka: KafkaLink) -> None:
        self._settings = settings
        self._kafka = kafka
        self._wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set, reconnecting to PostgreSQL and Kafka as needed."""
        if not await self._kafka.wait_ready(stop):
            return
        while not stop.is_set():
            try:
                connection = await db.connect(self._settings)
            except Exception as exc:
                log.warning("relay cannot reach PostgreSQL: %r", exc)
                await wait_or_stop(stop, self._settings.connect_retry_delay_s)
                continue
            try:
                await self._lead(connection, stop)
            except Exception as exc:
                log.warning("relay interrupted: %r", exc)
                await wait_or_stop(stop, self._settings.connect_retry_delay_s)
            finally:
                connection.terminate()

    async def _lead(self, connection: db.Connection, stop: asyncio.Event) -> None:
        while not await connection.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK):
            await wait_or_stop(stop, self._settings.relay_poll_interval_s)
            if stop.is_set():
                return
        log.info("relaying the outbox")
        await connection.add_listener(OUTBOX_CHANNEL, self._on_notify)
        await outbox.set_relay_idle(connection, False)
        active_at = time.monotonic()
        while not stop.is_set():
            self._wake.clear()
            published = await self.relay_once(connection)
            if published:
                active_at = time.monotonic()
                if published < self._settings.relay_batch_size:
                    # Let changes gather: each batch costs Kafka and PostgreSQL about the same
                    # whatever its size, so fewer, fuller batches cost less per change.
                    await self._sleep(stop, BUSY_POLL_S)
                continue
            if time.monotonic() - active_at < BUSY_LINGER_S:
                await self._sleep(stop, BUSY_POLL_S)
                continue
            await outbox.set_relay_idle(connection, True)
            # A writer that still saw the relay busy sent no NOTIFY: catch its change now.
            await self._sleep(stop, IDLE_GRACE_S)
            if not await self.relay_once(connection):
                await self._sleep(stop, self._settings.relay_poll_interval_s)
            await outbox.set_relay_idle(connection, False)
            active_at = time.monotonic()

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _sleep(self, stop: asyncio.Event, timeout_s: float) -> None:
        waking = asyncio.ensure_future(self._wake.wait())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait(
                {waking, stopping},
                timeout=timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            waking.cancel()
            stopping.cancel()

    async def relay_once(self, connection: db.Connection) -> int:
        """Publish one batch; returns how many rows were published and deleted."""
        rows = await outbox.pending(connection, self._settings.relay_batch_size)
        if not rows:
            return 0
        results = await self._send_all(rows)
        failed_users = {row.user_id for row, r in zip(rows, results, strict=True) if r is not None}
        done = [row.id for row in rows if row.user_id not in failed_users]
        if done:
            await outbox.delete(connection, done)
            PUBLISHED.inc(len(done))
            log.debug("published %d token sets", len(done))
        if failed_users:
            first = next(r for r in results if r is not None)
            raise RuntimeError(f"Kafka did not take {len(rows) - len(done)} token sets: {first}")
        return len(done)

    async def _send_all(self, rows: list[outbox.OutboxRow]) -> list[BaseException | None]:
        """Send every row, in order, in record batches (one per partition: a batch costs about
        what one record sent alone does); one result per row: None once acked, else the error."""
        producer = self._kafka.producer
        results: list[BaseException | None] = [None] * len(rows)
        filling: dict[int, _Batch] = {}
        sent: list[tuple[list[int], asyncio.Future[Any]]] = []
        try:
            partitions = await producer.partitions(topics.TOKENS)
            for i, row in enumerate(rows):
                key, value, headers = _record(row)
                partition = producer.partition_for(key, partitions)
                batch = filling.get(partition)
                if batch is None or not batch.add(i, key, value, headers):
                    if batch is not None:
                        sent.append((batch.rows, await batch.send(producer, partition)))
                    batch = filling[partition] = _Batch(producer.create_batch())
                    if not batch.add(i, key, value, headers):
                        raise ValueError(f"the token set of {row.user_id!r} does not fit a batch")
            for partition, batch in filling.items():
                sent.append((batch.rows, await batch.send(producer, partition)))
        except Exception as exc:
            queued = {i for members, _ in sent for i in members}
            results = [None if i in queued else exc for i in range(len(rows))]
        acks = await asyncio.gather(*(acked for _, acked in sent), return_exceptions=True)
        for ack, (members, _) in zip(acks, sent, strict=True):
            if isinstance(ack, BaseException):
                for i in members:
                    results[i] = ack
        return results


class _Batch:
    """A record batch for one partition and the indexes of the rows in it."""

    def __init__(self, builder: BatchBuilder) -> None:
        self.builder = builder
        self.rows: list[int] = []

    def add(self, row: int, key: bytes, value: bytes | None, headers: list[Header]) -> bool:
        if self.builder.append(key=key, value=value, timestamp=None, headers=headers) is None:
            return False
        self.rows.append(row)
        return True

    async def send(self, producer: Producer, partition: int) -> asyncio.Future[Any]:
        """Hand the batch over; the returned future is its acknowledgement."""
        return await producer.send_batch(self.builder, topics.TOKENS, partition)


def _record(row: outbox.OutboxRow) -> tuple[bytes, bytes | None, list[Header]]:
    """Key, value and headers of a row's record, as ``Producer.send`` would write them."""
    headers = [(topics.HEADER_TRACE_ID, (row.trace_id or new_trace_id()).encode())]
    message = outbox.token_set(row)
    if message is None:
        return row.user_id.encode(), None, headers
    headers.append((topics.HEADER_TYPE, type_name(message).encode()))
    return row.user_id.encode(), encode(message), headers


async def watch_backlog(pool: db.Pool, interval_s: float, stop: asyncio.Event) -> None:
    """Keep the backlog and lag gauges current, whichever replica relays."""
    while not stop.is_set():
        try:
            async with pool.acquire() as connection:
                backlog = await outbox.backlog(connection)
        except Exception as exc:
            log.warning("cannot measure the outbox backlog: %r", exc)
        else:
            BACKLOG.set(backlog.rows)
            LAG.set(backlog.oldest_age_s)
        await wait_or_stop(stop, interval_s)
