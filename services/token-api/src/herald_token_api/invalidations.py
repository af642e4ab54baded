"""Consumes herald.tokens.invalidated.v1: deletes a target FCM rejected, unless the browser
registered it again after FCM's answer; the user's new set goes out through the outbox."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC

from prometheus_client import Counter

from herald import topics
from herald.codec import InvalidRecord
from herald.consumer import Consumer, Record, RecordHandler
from herald.logs import mask
from herald.v1 import tokens_pb2
from herald_token_api import store
from herald_token_api.db import Pool
from herald_token_api.kafka import KafkaLink, wait_or_stop
from herald_token_api.names import CONSUMER_GROUP
from herald_token_api.settings import TokenApiSettings

log = logging.getLogger(__name__)

INVALIDATIONS = Counter(
    "herald_token_api_invalidations_total",
    "Invalidated targets, by outcome (deleted, kept: seen again after FCM's answer).",
    ["outcome"],
)


def handler(pool: Pool) -> RecordHandler:
    async def handle(record: Record) -> None:
        message = record.message
        if message is None:
            return
        if not isinstance(message, tokens_pb2.TokenInvalidated):
            raise InvalidRecord("unexpected-type", type(message).__name__)
        if not message.user_id or not message.target.value or not message.HasField("observed_at"):
            raise InvalidRecord("incomplete", "user_id, target.value and observed_at are required")
        observed_at = message.observed_at.ToDatetime(tzinfo=UTC)
        deleted = await store.invalidate(pool, message.user_id, message.target.value, observed_at)
        INVALIDATIONS.labels("deleted" if deleted else "kept").inc()
        log.info(
            "target invalidated" if deleted else "invalidated target kept: seen again since",
            extra={"target": mask(message.target.value), "reason": message.reason},
        )

    return handle


async def consume(
    settings: TokenApiSettings, pool: Pool, kafka: KafkaLink, stop: asyncio.Event
) -> None:
    """Run the consumer until ``stop`` is set, starting it again after a failure."""
    if not await kafka.wait_ready(stop):
        return
    while not stop.is_set():
        consumer = Consumer(
            [topics.TOKENS_INVALIDATED],
            bootstrap=settings.kafka_bootstrap,
            group_id=settings.topic_namespace + CONSUMER_GROUP,
            producer=kafka.producer,
            namespace=settings.topic_namespace,
            handler=handler(pool),
            connect_attempts=settings.connect_attempts,
            connect_retry_delay_s=settings.connect_retry_delay_s,
        )
        try:
            await consumer.run(stop)
        except Exception:
            log.exception("invalidation consumer failed; starting it again")
            await wait_or_stop(stop, settings.connect_retry_delay_s)
