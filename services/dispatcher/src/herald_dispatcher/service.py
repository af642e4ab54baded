"""The dispatcher process: the token projection, the send loop, health and metrics."""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis

from herald import redis_client, topics
from herald.consumer import Consumer
from herald.health import HealthServer
from herald.producer import Producer
from herald_dispatcher.auth import AccessTokens
from herald_dispatcher.deliverer import Deliverer
from herald_dispatcher.dispatch import Dispatch
from herald_dispatcher.fcm import FcmSender
from herald_dispatcher.http_sender import HttpFcmSender
from herald_dispatcher.keys import Keys
from herald_dispatcher.ledger import Ledger
from herald_dispatcher.projection import TokenProjection
from herald_dispatcher.ratelimit import RateLimiter
from herald_dispatcher.retry import RetryPolicy
from herald_dispatcher.sdk_sender import SdkFcmSender
from herald_dispatcher.settings import DispatcherSettings
from herald_dispatcher.targets import TargetReader

log = logging.getLogger(__name__)

# A claimed delivery key is taken for interrupted after the send timeout and this margin.
_LEASE_MARGIN_S = 2.0
_FLUSH_TIMEOUT_S = 10.0


def make_sender(settings: DispatcherSettings) -> FcmSender:
    if not settings.fcm_credentials:
        raise ValueError("no FCM project configured: set HERALD_FCM_CREDENTIALS")
    if settings.fcm_client == "firebase-admin":
        return SdkFcmSender(
            settings.fcm_base_url, settings.fcm_credentials, settings.send_timeout_s
        )
    tokens = {
        project: AccessTokens.from_file(path, settings.token_refresh_margin_s)
        for project, path in settings.fcm_credentials.items()
    }
    return HttpFcmSender(
        settings.fcm_base_url,
        tokens,
        max_in_flight=settings.max_in_flight,
        timeout_s=settings.send_timeout_s,
    )


class Dispatcher:
    """``await Dispatcher(settings).run(stop)`` returns once ``stop`` is set and the batch in
    hand finished or was handed back within the grace period, its offsets committed and the
    producer flushed."""

    def __init__(self, settings: DispatcherSettings, *, sender: FcmSender | None = None) -> None:
        self.settings = settings
        self._sender = sender or make_sender(settings)

    async def run(self, stop: asyncio.Event) -> None:
        settings = self.settings
        redis = await redis_client.connect(
            settings.redis_url.get_secret_value(),
            attempts=settings.connect_attempts,
            retry_delay_s=settings.connect_retry_delay_s,
            max_connections=64,
        )
        producer = Producer(
            settings.kafka_bootstrap,
            client_id="herald-dispatcher",
            namespace=settings.topic_namespace,
            linger_ms=settings.kafka_linger_ms,
            connect_attempts=settings.connect_attempts,
            connect_retry_delay_s=settings.connect_retry_delay_s,
        )
        try:
            await producer.start()
            await self._sender.start()
            await self._serve(stop, redis, producer)
        finally:
            await self._sender.stop()
            try:
                # Flushes what is left; bounded, in case Kafka went away.
                await asyncio.wait_for(producer.stop(), _FLUSH_TIMEOUT_S)
            except TimeoutError:
                log.warning("Kafka did not take the last records within %.0fs", _FLUSH_TIMEOUT_S)
            await redis.aclose()

    async def _serve(self, stop: asyncio.Event, redis: Redis, producer: Producer) -> None:
        settings = self.settings
        keys = Keys(settings.topic_namespace)
        projection = TokenProjection(settings, redis, producer)
        lease_ms = int((settings.send_timeout_s + _LEASE_MARGIN_S) * 1000)
        deliverer = Deliverer(
            sender=self._sender,
            projects=settings.fcm_credentials,
            limiter=RateLimiter(
                redis,
                keys,
                rate_per_minute=settings.rate_per_minute,
                burst_s=settings.rate_burst_s,
                ramp_up_s=settings.rate_ramp_up_s,
                idle_reset_s=settings.rate_idle_reset_s,
            ),
            ledger=Ledger(redis, ttl_s=settings.idempotency_ttl_s, lease_ms=lease_ms),
            keys=keys,
            policy=RetryPolicy.from_settings(settings),
            max_in_flight=settings.max_in_flight,
            expiry_margin_ms=settings.expiry_margin_ms,
            stop=stop,
        )
        targets = TargetReader(
            redis, keys, lambda: projection.partitions, wait_s=settings.projection_wait_s, stop=stop
        )
        dispatch = Dispatch(
            settings=settings, deliverer=deliverer, targets=targets, producer=producer, stop=stop
        )
        consumer = dispatch.consumer = Consumer(
            [topics.NOTIFICATIONS_DUE],
            bootstrap=settings.kafka_bootstrap,
            group_id=settings.send_group_id,
            producer=producer,
            namespace=settings.topic_namespace,
            batch_handler=dispatch.handle,
            max_records=settings.batch_max_records,
            batches_in_flight=settings.batches_in_flight,
            connect_attempts=settings.connect_attempts,
            connect_retry_delay_s=settings.connect_retry_delay_s,
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=max(settings.kafka_session_timeout_ms // 3, 100),
            client_id="herald-dispatcher",
        )

        async def redis_ready() -> None:
            await redis.ping()

        health = HealthServer(
            settings.health_host,
            settings.health_port,
            {"redis": redis_ready, "token_projection": projection.ready},
        )
        await health.start()
        loops = [
            asyncio.create_task(projection.run(stop), name="token-projection"),
            asyncio.create_task(consumer.run(stop), name="send-loop"),
        ]
        try:
            await asyncio.wait(loops, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            # Whichever way the loops end, they end together.
            stop.set()
            results = await asyncio.gather(*loops, return_exceptions=True)
            await health.stop()
        for result in results:
            if isinstance(result, BaseException):
                raise result
        log.info("dispatcher stopped")
