"""Delivery to connected browsers: one queue per open stream, keyed by target."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

log = logging.getLogger(__name__)

STREAM_QUEUE_SIZE = 10_000


def sender_id(project_id: str) -> str:
    """A stable 12-digit stand-in for the project number FCM puts in a payload's `from`."""
    digest = hashlib.sha256(project_id.encode()).digest()
    return str(10**11 + int.from_bytes(digest[:8], "big") % (9 * 10**11))


class DeliveryHub:
    def __init__(self) -> None:
        self._streams: dict[str, set[asyncio.Queue[dict[str, Any] | None]]] = {}
        self.dropped = 0

    def subscribe(self, target: str) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(STREAM_QUEUE_SIZE)
        self._streams.setdefault(target, set()).add(queue)
        return queue

    def unsubscribe(self, target: str, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        queues = self._streams.get(target)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._streams[target]

    def listening(self, target: str) -> bool:
        return target in self._streams

    def publish(self, target: str, payload: dict[str, Any]) -> None:
        for queue in self._streams.get(target, ()):
            try:
                queue.put_nowait(payload)
            except asyncio.QueueFull:
                self.dropped += 1
                log.warning("stream queue full, message dropped", extra={"dropped": self.dropped})

    def close_all(self) -> None:
        """Ask every open stream to end (at shutdown)."""
        for queues in self._streams.values():
            for queue in queues:
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(None)
