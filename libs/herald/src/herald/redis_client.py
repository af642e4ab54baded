"""Redis for Herald's services: redis-py's asyncio client, its commands packed by hiredis.

redis-py packs commands in C with hiredis for its synchronous connections only; its asyncio
connections build each command in Python, one join per argument (redis/redis-py#4176). The
dispatcher's delivery keys go to Redis as scripts of a few hundred arguments, where that packing
cost 0.8 µs an argument against 0.1 µs with hiredis, and left the command in dozens of pieces
for the socket write.
"""

from __future__ import annotations

from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection

from herald.connect import with_retries


async def connect(
    url: str,
    *,
    attempts: int,
    retry_delay_s: float,
    timeout_s: float = 10.0,
    max_connections: int | None = None,
) -> Redis:
    """A client of ``url`` (redis://, rediss:// or unix://) once Redis answers, tried
    ``attempts`` times."""
    redis = Redis.from_url(
        url,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        max_connections=max_connections,
    )
    pool = redis.connection_pool
    pool.connection_class = packed_by_hiredis(pool.connection_class)
    await with_retries("Redis", redis.ping, attempts, retry_delay_s)
    return redis


_PACKED: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def packed_by_hiredis(base: type[AbstractConnection]) -> type[AbstractConnection]:
    """``base`` with its commands packed by hiredis: the same bytes as redis-py's, which still
    packs, or refuses, what hiredis does not take (a bytearray, a bool, None)."""
    if base in _PACKED:
        return _PACKED[base]

    def pack_command(self: AbstractConnection, *args: Any) -> list[bytes]:
        command = args[0]
        if isinstance(command, str):
            args = (*command.encode().split(), *args[1:])
        elif b" " in command:
            args = (*command.split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]
        except TypeError:
            return base.pack_command(self, *args)

    packed = type(f"Hiredis{base.__name__}", (base,), {"pack_command": pack_command})
    _PACKED[base] = packed
    return packed
