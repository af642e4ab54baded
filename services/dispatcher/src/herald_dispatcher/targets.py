"""Reading users' targets from the projection, and turning a notification into deliveries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from redis.asyncio import Redis

from herald.v1 import common_pb2, tokens_pb2
from herald_dispatcher.deliverer import HandedBack
from herald_dispatcher.keys import Keys
from herald_dispatcher.notification import Notification
from herald_dispatcher.outcome import Delivery
from herald_dispatcher.timing import sleep_unless

_NOT_READY_POLL_S = 0.2
# KEYS: users' target hashes. Returns each one's TokenSet bytes (nil when the user has none):
# one command for the whole batch instead of one HGET per user.
_READ_SETS = """
local found = {}
for i, key in ipairs(KEYS) do
  found[i] = redis.call('HGET', key, 's')
end
return found
"""


class ProjectionNotReady(Exception):
    """The projection is being rebuilt; the batch is tried again later."""


class TargetReader:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        partitions: Callable[[], int | None],
        *,
        wait_s: float,
        stop: asyncio.Event,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._partitions = partitions
        self._wait_s = wait_s
        self._stop = stop

    async def resolve(self, user_ids: Iterable[str]) -> dict[str, list[tokens_pb2.TokenEntry]]:
        """Each user's current targets, in one round trip once the projection is complete."""
        users = list(dict.fromkeys(user_ids))
        deadline = time.monotonic() + self._wait_s
        while True:
            count = self._partitions() or 0
            pipe = self._redis.pipeline(transaction=False)
            if count:
                pipe.mget([self._keys.projection_applied(p) for p in range(count)])
            if users:
                keys = [self._keys.targets(user_id) for user_id in users]
                pipe.eval(_READ_SETS, len(keys), *keys)
            results = await pipe.execute()
            if count and all(marker is not None for marker in results[0]):
                sets = results[1] if users else []
                return {user: _entries(raw) for user, raw in zip(users, sets, strict=True)}
            if time.monotonic() > deadline:
                raise ProjectionNotReady("the token projection is still being rebuilt")
            if await sleep_unless(self._stop, _NOT_READY_POLL_S):
                raise HandedBack


def _entries(raw: bytes | None) -> list[tokens_pb2.TokenEntry]:
    if not raw:
        return []
    token_set = tokens_pb2.TokenSet()
    token_set.ParseFromString(raw)
    return list(token_set.tokens)


@dataclass
class Plan:
    deliveries: list[Delivery] = field(default_factory=list)
    # Targets a retry named that the user no longer has.
    gone: list[common_pb2.Target] = field(default_factory=list)


def plan(
    notification: Notification, entries: list[tokens_pb2.TokenEntry], default_project: str
) -> Plan:
    """One delivery per distinct target: the user's current targets, or, for a retry, the
    targets it names that the user still has."""
    current = {entry.target.value: entry for entry in entries if entry.target.value}
    result = Plan()
    wanted = notification.due.targets
    chosen: Iterable[common_pb2.Target] = wanted or (entry.target for entry in current.values())
    seen: set[str] = set()
    for target in chosen:
        if target.value in seen:
            continue
        seen.add(target.value)
        entry = current.get(target.value)
        if entry is None:
            result.gone.append(target)
            continue
        project = target.project_id or entry.target.project_id or default_project
        result.deliveries.append(Delivery(notification, target, entry.platform, project))
    return result
