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

from prometheus_client import Counter, Gauge

from herald import topics
from herald.batches import BatchWriter
from herald.producer import event_record
from herald_token_api import db, outbox
from herald_token_api.kafka import KafkaLink, wait_or_stop
from herald_token_api.names import OUTBOX_CHANNEL, RELAY_LOCK
from herald_token_api.settings import TokenApiSettings

log = logging.getLogger(__name__)

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
        writer = BatchWriter(self._kafka.producer, topics.TOKENS, linger_s=0)
        acks: list[asyncio.Future[Any]] = []
        error: BaseException | None = None
        try:
            await writer.refresh_partitions()
            for row in rows:
                value, headers = event_record(outbox.token_set(row), row.trace_id or None)
                acks.append(writer.add(row.user_id.encode(), value, headers))
        except Exception as exc:
            error = exc
        writer.flush()
        results = await asyncio.gather(*acks, return_exceptions=True)
        return [
            *(r if isinstance(r, BaseException) else None for r in results),
            *[error] * (len(rows) - len(acks)),
        ]


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
