"""The token projection: herald.tokens.v1 (compacted, key user_id) kept in Redis.

Each user's latest TokenSet is stored under its own key (a tombstone deletes it). Per partition
a marker holds the next offset to apply; it is written in the same Lua call as the records, and
the consumer resumes from it (its Kafka commits are not used). A partition whose marker is
missing, because Redis was flushed or lost its data, is replayed from the start of the topic
and gets its marker back only once it caught up with the end offset seen when the replay began.
The send loop reads targets only while every partition has its marker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from redis.asyncio import Redis

from herald import topics
from herald.consumer import Consumer, Record
from herald.producer import Producer
from herald.v1 import tokens_pb2
from herald_dispatcher import events, metrics
from herald_dispatcher.keys import Keys
from herald_dispatcher.settings import DispatcherSettings
from herald_dispatcher.timing import sleep_unless

log = logging.getLogger(__name__)

_REBUILD_CHECK_S = 0.1
_TOKEN_SET_TYPE = tokens_pb2.TokenSet.DESCRIPTOR.full_name

# KEYS[1] = the partition's marker, KEYS[2..] = user keys. ARGV[1] = "1" while the partition is
# replayed from the start, ARGV[2] = next offset, then per user key: op ("S"/"D"), version, set.
_APPLY = """
if ARGV[1] == '0' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 2, #KEYS do
  local at = (i - 2) * 3 + 2
  if ARGV[at + 1] == 'D' then
    redis.call('DEL', KEYS[i])
  else
    local current = tonumber(redis.call('HGET', KEYS[i], 'v'))
    if current == nil or current <= tonumber(ARGV[at + 2]) then
      redis.call('HSET', KEYS[i], 'v', ARGV[at + 2], 's', ARGV[at + 3])
    end
  end
end
if ARGV[1] == '0' then
  local current = tonumber(redis.call('GET', KEYS[1])) or 0
  if tonumber(ARGV[2]) > current then redis.call('SET', KEYS[1], ARGV[2]) end
end
return 1
"""


class TokenProjection(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, settings: DispatcherSettings, redis: Redis, producer: Producer) -> None:
        self._settings = settings
        self._redis = redis
        self._producer = producer
        self._keys = Keys(settings.topic_namespace)
        self._topic = settings.topic_namespace + topics.TOKENS.name
        self._apply_script = redis.register_script(_APPLY)
        # Partitions being replayed from the start -> end offset to reach (None: not read yet).
        self._rebuilding: dict[int, int | None] = {}
        self._applying = False
        self.consumer = Consumer(
            [topics.TOKENS],
            bootstrap=settings.kafka_bootstrap,
            group_id=settings.tokens_group_id,
            producer=producer,
            namespace=settings.topic_namespace,
            batch_handler=self._apply,
            listener=self,
            connect_attempts=settings.connect_attempts,
            connect_retry_delay_s=settings.connect_retry_delay_s,
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=max(settings.kafka_session_timeout_ms // 3, 100),
            client_id="herald-dispatcher-tokens",
        )

    @property
    def partitions(self) -> int | None:
        """Partitions of herald.tokens.v1, once the consumer has seen the topic's metadata."""
        found = self.consumer.kafka.partitions_for_topic(self._topic)
        return len(found) if found else None

    async def ready(self) -> None:
        """Raise unless every partition's projection is complete in Redis."""
        count = self.partitions
        if count is None:
            raise RuntimeError("herald.tokens.v1 not seen yet")
        markers = await self._redis.mget([self._keys.projection_applied(p) for p in range(count)])
        missing = [p for p, marker in enumerate(markers) if marker is None]
        if missing:
            raise RuntimeError(f"token projection incomplete for partitions {missing}")

    async def run(self, stop: asyncio.Event) -> None:
        checks = asyncio.create_task(self._watch(stop), name="projection-check")
        try:
            await self.consumer.run(stop)
        finally:
            checks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checks

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        for tp in revoked:
            self._rebuilding.pop(tp.partition, None)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        if not assigned:
            return
        markers = await self._redis.mget(
            [self._keys.projection_applied(tp.partition) for tp in assigned]
        )
        lost = []
        for tp, marker in zip(assigned, markers, strict=True):
            if marker is None:
                lost.append(tp)
            else:
                self.consumer.kafka.seek(tp, int(marker))
        self._rebuild(lost)

    def _rebuild(self, lost: list[TopicPartition]) -> None:
        lost = [tp for tp in lost if tp.partition not in self._rebuilding]
        if not lost:
            return
        log.warning(
            "token projection not in Redis: replaying the topic",
            extra={"partitions": sorted(tp.partition for tp in lost)},
        )
        for tp in lost:
            metrics.PROJECTION_REBUILDS.inc()
            self._rebuilding[tp.partition] = None
            self.consumer.kafka.seek(tp, 0)

    async def _watch(self, stop: asyncio.Event) -> None:
        """Notice lost markers, and finish replays that caught up."""
        while True:
            interval = _REBUILD_CHECK_S if self._rebuilding else self._settings.projection_check_s
            if await sleep_unless(stop, interval):
                return
            try:
                await self._check()
            except Exception:
                log.exception("token projection check failed")

    async def _check(self) -> None:
        kafka = self.consumer.kafka
        assigned = sorted(kafka.assignment(), key=lambda tp: tp.partition)
        following = [tp for tp in assigned if tp.partition not in self._rebuilding]
        if following:
            markers = await self._redis.mget(
                [self._keys.projection_applied(tp.partition) for tp in following]
            )
            self._rebuild(
                [tp for tp, marker in zip(following, markers, strict=True) if marker is None]
            )
        replaying = [tp for tp in assigned if tp.partition in self._rebuilding]
        unknown = [tp for tp in replaying if self._rebuilding[tp.partition] is None]
        if unknown:
            ends = await kafka.end_offsets(unknown)
            for tp in unknown:
                self._rebuilding[tp.partition] = ends[tp]
        for tp in replaying:
            end = self._rebuilding.get(tp.partition)
            if end is None or self._applying:
                continue
            position = await kafka.position(tp)
            if position >= end and not self._applying:
                await self._redis.set(self._keys.projection_applied(tp.partition), position)
                self._rebuilding.pop(tp.partition, None)
                log.info("token projection rebuilt", extra={"partition": tp.partition})

    async def _apply(self, records: list[Record]) -> None:
        by_partition: dict[int, list[tuple[str, tokens_pb2.TokenSet | None]]] = defaultdict(list)
        next_offsets: dict[int, int] = {}
        dead: list[asyncio.Future[Any]] = []
        for record in records:
            problem = _problem(record)
            if problem is not None:
                dead.append(await self._dead_letter(record, *problem))
                continue
            token_set = record.message if isinstance(record.message, tokens_pb2.TokenSet) else None
            by_partition[record.partition].append((record.key or "", token_set))
            next_offsets[record.partition] = record.offset + 1
        partitions = list(by_partition)
        self._applying = True
        try:
            pipe = self._redis.pipeline(transaction=False)
            for partition in partitions:
                await self._apply_partition(
                    pipe, partition, by_partition[partition], next_offsets[partition]
                )
            results = await pipe.execute() if partitions else []
        finally:
            self._applying = False
        self._rebuild(
            [
                TopicPartition(self._topic, partition)
                for partition, applied in zip(partitions, results, strict=True)
                if not applied
            ]
        )
        await asyncio.gather(*dead)

    async def _apply_partition(
        self,
        pipe: Any,
        partition: int,
        sets: list[tuple[str, tokens_pb2.TokenSet | None]],
        next_offset: int,
    ) -> None:
        keys = [self._keys.projection_applied(partition)]
        args: list[str | bytes | int] = [
            "1" if partition in self._rebuilding else "0",
            next_offset,
        ]
        for user_id, token_set in sets:
            keys.append(self._keys.targets(user_id))
            if token_set is None or not token_set.tokens:
                args.extend(("D", 0, b""))
            else:
                args.extend(("S", token_set.version, token_set.SerializeToString()))
        await self._apply_script(keys=keys, args=args, client=pipe)

    async def _dead_letter(self, record: Record, reason: str, detail: str) -> asyncio.Future[Any]:
        headers = events.dead_letter_headers(
            record,
            _TOKEN_SET_TYPE,
            namespace=self._settings.topic_namespace,
            group_id=self._settings.tokens_group_id,
            reason=reason,
            detail=detail,
        )
        value = record.message.SerializeToString() if record.message is not None else None
        return await self._producer.send_raw(topics.DLQ, record.key, value, headers)


def _problem(record: Record) -> tuple[str, str] | None:
    """Why ``record`` cannot be applied to the projection (reason, detail), or None."""
    if record.key is None:
        return "missing-key", "a TokenSet keyed by user_id is expected"
    message = record.message
    if message is None:
        return None
    if not isinstance(message, tokens_pb2.TokenSet):
        return "unexpected-type", "a TokenSet keyed by user_id is expected"
    if message.user_id != record.key:
        return "key-mismatch", "the TokenSet's user_id differs from the record key"
    if any(not entry.target.value for entry in message.tokens):
        return "incomplete", "a TokenSet entry has no target value"
    return None
