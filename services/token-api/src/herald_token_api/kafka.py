"""The service's Kafka producer, connected in the background so the API serves (and the outbox
fills) while Kafka is away; publishing waits for it only as long as a request may."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka.errors import KafkaError
from google.protobuf.message import Message

from herald.producer import Producer
from herald.topics import Topic
from herald_token_api.names import CLIENT_ID
from herald_token_api.problems import unavailable
from herald_token_api.settings import TokenApiSettings

log = logging.getLogger(__name__)


async def wait_or_stop(stop: asyncio.Event, delay_s: float) -> None:
    """Sleep ``delay_s``, or less when ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay_s)


class KafkaLink:
    def __init__(self, settings: TokenApiSettings) -> None:
        self.producer = Producer(
            settings.kafka_bootstrap,
            client_id=CLIENT_ID,
            namespace=settings.topic_namespace,
            connect_attempts=settings.connect_attempts,
            connect_retry_delay_s=settings.connect_retry_delay_s,
        )
        self.ready = asyncio.Event()
        self._retry_delay_s = settings.connect_retry_delay_s
        self._publish_timeout_s = settings.publish_timeout_s

    async def connect(self, stop: asyncio.Event) -> None:
        """Start the producer, retrying until it works or ``stop`` is set."""
        while not stop.is_set():
            starting = asyncio.ensure_future(self.producer.start())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not starting.done():
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
                return
            if starting.exception() is None:
                self.ready.set()
                log.info("connected to Kafka")
                return
            log.warning("Kafka is not reachable yet; retrying: %r", starting.exception())
            await wait_or_stop(stop, self._retry_delay_s)

    async def wait_ready(self, stop: asyncio.Event) -> bool:
        """Wait until connected (True) or until ``stop`` is set (False)."""
        stopping = asyncio.ensure_future(stop.wait())
        readying = asyncio.ensure_future(self.ready.wait())
        try:
            await asyncio.wait({stopping, readying}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            readying.cancel()
        return self.ready.is_set() and not stop.is_set()

    async def stop(self) -> None:
        await self.producer.stop()

    async def publish(self, topic: Topic, key: str, message: Message | None) -> None:
        """Send and wait for the ack, or raise a 503 problem when Kafka cannot take it in time."""

        async def send() -> None:
            await self.ready.wait()
            await self.producer.send_and_wait(topic, key, message)

        try:
            await asyncio.wait_for(send(), self._publish_timeout_s)
        except (KafkaError, TimeoutError) as exc:
            log.warning("cannot publish to %s: %r", topic.name, exc)
            raise unavailable("kafka-unavailable", "events cannot be published right now") from exc
