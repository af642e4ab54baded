"""The scheduler process: intake, shard ownership and release loops, health and metrics."""

from __future__ import annotations

import asyncio
import logging

from herald import redis_client, topics
from herald.health import HealthServer
from herald_scheduler.batching import ScriptBatcher
from herald_scheduler.clock import Clock, SystemClock
from herald_scheduler.intake import Intake, IntakeConsumer
from herald_scheduler.ownership import Ownership
from herald_scheduler.publisher import BatchProducer
from herald_scheduler.release import Releaser
from herald_scheduler.settings import SchedulerSettings
from herald_scheduler.shard import Shard
from herald_scheduler.store import SCRIPTS

log = logging.getLogger(__name__)

# Small per-partition fetches put many partitions into each batch, and the consumer handles the
# partitions of a batch in parallel (their Redis calls then share pipelines).
_INTAKE_PARTITION_FETCH_BYTES = 128 * 1024
# A fetch answers once this much is there or after the wait: under load fewer, larger batches
# (each batch costs an offset commit), and at most this wait added to a quiet topic's intake.
_INTAKE_FETCH_MIN_BYTES = 16 * 1024
_INTAKE_FETCH_MAX_WAIT_MS = 20


class Scheduler:
    """Run with ``await Scheduler(settings).run(stop)``; returns after ``stop`` is set and the
    in-flight releases finished (or the grace period ran out) and offsets were committed."""

    def __init__(
        self,
        settings: SchedulerSettings,
        *,
        clock: Clock | None = None,
        producer: BatchProducer | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        # Kafka has one produce request in flight per connection: NotificationDue records get
        # a producer of their own, so they never queue behind tombstones and dead letters.
        self.producer = producer or self._producer("herald-scheduler")
        self.bookkeeping = self._producer("herald-scheduler-bookkeeping")
        self.ownership: Ownership | None = None

    def _producer(self, client_id: str) -> BatchProducer:
        return BatchProducer(
            self.settings.kafka_bootstrap,
            client_id=client_id,
            namespace=self.settings.topic_namespace,
            linger_ms=self.settings.kafka_linger_ms,
            connect_attempts=self.settings.connect_attempts,
            connect_retry_delay_s=self.settings.connect_retry_delay_s,
        )

    async def run(self, stop: asyncio.Event) -> None:
        settings = self.settings
        redis = await redis_client.connect(
            settings.redis_url.get_secret_value(),
            attempts=settings.connect_attempts,
            retry_delay_s=settings.connect_retry_delay_s,
        )
        scripts = ScriptBatcher(redis, SCRIPTS)
        await self.producer.start()
        await self.bookkeeping.start()
        ownership = self.ownership = Ownership(
            settings.topic_namespace + topics.REMINDERS.name,
            make_shard=lambda partition: Shard(
                partition,
                scripts=scripts,
                producer=self.bookkeeping,
                settings=settings,
                clock=self.clock,
            ),
            make_releaser=lambda shard: Releaser(
                shard, producer=self.producer, settings=settings, clock=self.clock
            ),
            grace_s=settings.shutdown_grace_s,
        )
        consumer = IntakeConsumer(
            [topics.REMINDERS],
            bootstrap=settings.kafka_bootstrap,
            group_id=settings.consumer_group,
            producer=self.bookkeeping,
            namespace=settings.topic_namespace,
            handler=Intake(ownership, settings).handle,
            listener=ownership,
            max_records=settings.intake_max_records,
            max_partition_fetch_bytes=_INTAKE_PARTITION_FETCH_BYTES,
            fetch_min_bytes=_INTAKE_FETCH_MIN_BYTES,
            fetch_max_wait_ms=_INTAKE_FETCH_MAX_WAIT_MS,
            connect_attempts=settings.connect_attempts,
            connect_retry_delay_s=settings.connect_retry_delay_s,
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=max(settings.kafka_session_timeout_ms // 3, 100),
            client_id="herald-scheduler",
        )
        ownership.consumer = consumer.kafka

        async def redis_ready() -> None:
            await redis.ping()

        async def kafka_ready() -> None:
            if not ownership.joined:
                raise RuntimeError("not yet a member of the consumer group")

        health = HealthServer(
            settings.health_host,
            settings.health_port,
            {"redis": redis_ready, "kafka": kafka_ready},
        )
        consuming_stop = asyncio.Event()
        consuming: asyncio.Task[None] | None = None
        try:
            await health.start()
            consuming = asyncio.create_task(consumer.run(consuming_stop), name="intake")
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({consuming, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            log.info("stopping: finishing the releases in flight")
            await ownership.stop_releasing()
        finally:
            consuming_stop.set()
            try:
                if consuming is not None:
                    await consuming
            finally:
                await ownership.close()
                await self.producer.stop()
                await self.bookkeeping.stop()
                await health.stop()
                await redis.aclose()
                log.info("stopped")
