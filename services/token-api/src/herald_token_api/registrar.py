"""Registrations gathered into one database call while earlier calls are still running (group
commit). A transaction's fixed cost (the round trip, its start, the commit and its WAL flush)
is then paid once per group: under load the groups grow by themselves, alone a registration
runs by itself as before.

One call at a time waits for a pooled connection; when it gets one, it takes every registration
that arrived meanwhile (at most ``MAX_BATCH``) and runs them with ``token_register_batch`` (see
migrations/0004), each exactly as ``token_register`` alone would, in arrival order, in one
transaction. If that transaction fails for any reason other than an unreachable database (a
concurrent change that got in the way, say), the group's registrations run again one by one,
each with its own retries and its own error. Otherwise the call keeps its connection and takes
the next group while registrations are waiting."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from herald.tracing import current_trace_id
from herald_token_api import store
from herald_token_api.db import Pool
from herald_token_api.problems import DATABASE_UNAVAILABLE

MAX_BATCH = 64
# Calls running at once; registrations arriving meanwhile wait and gather.
MAX_CALLS = 4


@dataclass(frozen=True)
class _Pending:
    user: str
    target: store.NewTarget
    replaces: str | None
    trace_id: str
    done: asyncio.Future[store.Registration]


class Registrar:
    def __init__(self, pool: Pool, max_targets: int) -> None:
        self._pool = pool
        self._max_targets = max_targets
        self._pending: list[_Pending] = []
        # Whether a call is waiting for a connection (it will take what is pending then).
        self._collecting = False
        self._calls: set[asyncio.Task[None]] = set()

    async def register(
        self, user: str, target: store.NewTarget, *, replaces: str | None = None
    ) -> store.Registration:
        """As ``store.register``: insert, touch or move ``target`` to ``user``, with
        ``replaces`` deleting that old target of the user in the same transaction."""
        done: asyncio.Future[store.Registration] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(user, target, replaces, current_trace_id() or "", done))
        if not self._collecting and len(self._calls) < MAX_CALLS:
            self._start_call()
        return await done

    def _start_call(self) -> None:
        self._collecting = True
        task = asyncio.ensure_future(self._call())
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _call(self) -> None:
        await self._call_once()
        # Done with the database: let the next call start (the done callback comes later).
        self._calls.discard(asyncio.current_task())
        if self._pending and not self._collecting:
            self._start_call()

    async def _call_once(self) -> None:
        group: list[_Pending] = []
        try:
            async with self._pool.acquire() as connection:
                # The connection is kept while registrations wait: the next group is taken as
                # soon as this one is done, without a turn of the event loop for the pool's
                # release and the next call's start (each a few milliseconds under load).
                while group := self._take():
                    rows = await self._run(connection, group)
                    for pending, row in zip(group, rows, strict=True):
                        _settle(pending.done, store.registration(row))
        except DATABASE_UNAVAILABLE as exc:
            group = group or self._take()
            for pending in group:
                _settle(pending.done, exc=exc)
            return
        except Exception:
            group = group or self._take()
            await asyncio.gather(*(self._alone(pending) for pending in group))
            return
        except BaseException as exc:  # cancelled: the service is stopping
            for pending in group or self._take(start_next=False):
                _settle(pending.done, exc=exc)
            raise

    def _take(self, *, start_next: bool = True) -> list[_Pending]:
        """The next group; with more waiting, another call starts if one may."""
        group, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        self._collecting = False
        if start_next and self._pending and len(self._calls) < MAX_CALLS:
            self._start_call()
        return group

    async def _run(self, connection: Any, group: list[_Pending]) -> list[Any]:
        if len(group) == 1:
            one = group[0]
            row = await store.register_on(
                connection, one.user, one.target, self._max_targets, one.replaces, one.trace_id
            )
            return [row]
        targets = [p.target for p in group]
        rows: list[Any] = await connection.fetch(
            "SELECT * FROM token_register_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            [p.user for p in group],
            [t.value for t in targets],
            [t.kind for t in targets],
            [t.project_id for t in targets],
            [t.platform for t in targets],
            [t.device_label for t in targets],
            [t.user_agent for t in targets],
            self._max_targets,
            [p.replaces for p in group],
            [p.trace_id for p in group],
        )
        return rows

    async def _alone(self, pending: _Pending) -> None:
        try:
            done = await store.register(
                self._pool,
                pending.user,
                pending.target,
                max_targets=self._max_targets,
                replaces=pending.replaces,
                trace_id=pending.trace_id,
            )
        except Exception as exc:
            _settle(pending.done, exc=exc)
        else:
            _settle(pending.done, done)


def _settle(
    future: asyncio.Future[store.Registration],
    result: store.Registration | None = None,
    *,
    exc: BaseException | None = None,
) -> None:
    """Hand over the result, unless the caller is gone (its request was cancelled)."""
    if future.done():
        return
    if isinstance(exc, asyncio.CancelledError):
        future.cancel()
    elif exc is not None:
        future.set_exception(exc)
    else:
        assert result is not None
        future.set_result(result)
