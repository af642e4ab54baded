"""Which shards this instance releases: exactly the partitions the consumer group gave it."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from herald import lifecycle
from herald_scheduler import metrics
from herald_scheduler.release import Releaser
from herald_scheduler.shard import Shard

log = logging.getLogger(__name__)


@dataclass
class _Owned:
    shard: Shard
    releaser: Releaser
    task: asyncio.Task[None]


class Ownership(ConsumerRebalanceListener):  # type: ignore[misc]
    """Starts a shard's release loop when its partition is assigned and stops it, letting its
    in-flight batches finish, when the partition is revoked."""

    def __init__(
        self,
        topic: str,
        *,
        make_shard: Callable[[int], Shard],
        make_releaser: Callable[[Shard], Releaser],
        grace_s: float,
    ) -> None:
        self.topic = topic
        self.consumer: AIOKafkaConsumer | None = None
        # True once the group gave this instance an assignment (possibly empty).
        self.joined = False
        self._make_shard = make_shard
        self._make_releaser = make_releaser
        self._grace_s = grace_s
        self._owned: dict[int, _Owned] = {}
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        # Partitions being handed over: nothing is applied to them until they are assigned again.
        self._revoked: set[int] = set()
        self._closing = False

    @property
    def partitions(self) -> list[int]:
        return sorted(self._owned)

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._stop([tp.partition for tp in revoked if tp.topic == self.topic])

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self.joined = True
        partitions = [tp.partition for tp in assigned if tp.topic == self.topic]
        self._revoked.difference_update(partitions)
        results = await asyncio.gather(
            *(self._start(p) for p in partitions), return_exceptions=True
        )
        for partition, result in zip(partitions, results, strict=True):
            if isinstance(result, BaseException):
                log.error(
                    "shard %d could not be opened; intake retries it", partition, exc_info=result
                )

    def owned(self, partition: int) -> Shard | None:
        """The shard of a partition released here, without waiting; None when it is not open."""
        owned = self._owned.get(partition)
        return None if owned is None else owned.shard

    async def shard_for(self, partition: int) -> Shard | None:
        """The shard of an owned partition (opened now if that failed before); None when the
        partition is not, or no longer, this instance's."""
        owned = self._owned.get(partition)
        if owned is not None:
            return owned.shard
        if self._closing or self.consumer is None or partition in self._revoked:
            return None
        if TopicPartition(self.topic, partition) not in self.consumer.assignment():
            return None
        return await self._start(partition)

    async def stop_releasing(self) -> None:
        """Shutdown, first step: stop every release loop (in-flight batches finish) while intake
        goes on, so nothing the loops published is left for the next owner to publish again."""
        self._closing = True
        owned = list(self._owned.values())
        for o in owned:
            o.releaser.stop()
        await lifecycle.drain({o.task for o in owned}, self._grace_s, "shard release loops")

    async def close(self) -> None:
        """Shutdown, last step (after intake stopped): let go of every shard."""
        self._closing = True
        await self._stop(list(self._owned))

    async def _start(self, partition: int) -> Shard | None:
        async with self._locks[partition]:
            if partition in self._owned:
                return self._owned[partition].shard
            if self._closing:
                return None
            assert self.consumer is not None
            committed = await self.consumer.committed(TopicPartition(self.topic, partition))
            shard = self._make_shard(partition)
            await shard.open(committed)
            releaser = self._make_releaser(shard)
            task = asyncio.create_task(releaser.run(), name=f"release-shard-{partition}")
            self._owned[partition] = _Owned(shard, releaser, task)
            metrics.OWNED_SHARDS.set(len(self._owned))
            log.info("shard %d: releasing (epoch %d)", partition, shard.epoch)
            return shard

    async def _stop(self, partitions: list[int]) -> None:
        self._revoked.update(partitions)
        stopping = [self._owned.pop(p) for p in partitions if p in self._owned]
        if not stopping:
            return
        for owned in stopping:
            owned.releaser.stop()
        running = {o.task for o in stopping if not o.task.done()}
        await lifecycle.drain(running, self._grace_s, "shard release loops")
        for owned in stopping:
            await owned.shard.close()
        metrics.OWNED_SHARDS.set(len(self._owned))
        log.info("stopped releasing shards %s", sorted(o.shard.partition for o in stopping))
