"""Lua scripts run by EVALSHA, the calls made while a round trip is in flight coalesced into one
pipeline: under load many shards and partitions share one write and one read."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError


@dataclass(frozen=True)
class _Call:
    name: str
    keys: Sequence[str]
    args: Sequence[Any]
    future: asyncio.Future[Any]


class ScriptBatcher:
    def __init__(self, redis: Redis, scripts: Mapping[str, str]) -> None:
        self.redis = redis
        self._sources = dict(scripts)
        self._shas = {name: hashlib.sha1(s.encode()).hexdigest() for name, s in scripts.items()}
        self._queue: list[_Call] = []
        self._flusher: asyncio.Task[None] | None = None

    async def run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run script ``name``; returns its reply, raises what Redis answered."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append(_Call(name, keys, args, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._queue:
            calls, self._queue = self._queue, []
            try:
                replies = await self._execute(calls)
            except BaseException as exc:
                for call in calls:
                    if not call.future.done():
                        call.future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for call, reply in zip(calls, replies, strict=True):
                if call.future.done():
                    continue
                if isinstance(reply, Exception):
                    call.future.set_exception(reply)
                else:
                    call.future.set_result(reply)

    async def _execute(self, calls: list[_Call]) -> list[Any]:
        replies = await self._pipeline(calls)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            # Redis restarted or its script cache was flushed: load and run those again.
            for name in {calls[i].name for i in missing}:
                await self.redis.script_load(self._sources[name])
            retried = await self._pipeline([calls[i] for i in missing])
            for i, reply in zip(missing, retried, strict=True):
                replies[i] = reply
        return replies

    async def _pipeline(self, calls: list[_Call]) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for call in calls:
                pipe.evalsha(self._shas[call.name], len(call.keys), *call.keys, *call.args)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies
