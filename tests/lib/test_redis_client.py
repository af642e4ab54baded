"""herald.redis_client: redis-py's asyncio client with commands packed by hiredis, checked
against redis-py's own packing and a real Redis."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import DataError

from herald.redis_client import connect, packed_by_hiredis

# Redis DB 7 is this module's; other suites use other databases at the same time.
REDIS_URL = "redis://127.0.0.1:63790/7"

ARGUMENTS: list[Any] = [
    b"bytes",
    "text \N{LATIN SMALL LETTER E WITH ACUTE}",
    0,
    -12,
    2**70,
    1.5,
    0.1,
    1e20,
    b"",
    memoryview(b"view"),
    bytearray(b"array"),
]
MANY = [f"herald.delivery:{n:06d}:{uuid.UUID(int=n).hex}" for n in range(300)]


@pytest.mark.parametrize("base", [Connection, UnixDomainSocketConnection])
def test_commands_are_packed_as_redis_py_packs_them_in_one_piece(base: type[Connection]) -> None:
    packed, plain = packed_by_hiredis(base)(), base()
    commands: list[tuple[Any, ...]] = [
        *(("SET", "key", argument) for argument in ARGUMENTS),
        ("CONFIG GET", "maxmemory"),
        (b"CLIENT LIST",),
        ("EVALSHA", "90b18a13" * 5, len(MANY), *MANY, *MANY),
    ]
    for command in commands:
        assert b"".join(packed.pack_command(*command)) == b"".join(plain.pack_command(*command))
    # One buffer for the socket, where redis-py's packing leaves a long command in pieces.
    assert len(packed.pack_command(*commands[-1])) == 1
    assert len(plain.pack_command(*commands[-1])) > 1


@pytest.mark.parametrize("argument", [True, None, object()])
def test_what_redis_py_refuses_is_refused(argument: object) -> None:
    with pytest.raises(DataError, match="Invalid input of type"):
        packed_by_hiredis(Connection)().pack_command("SET", "key", argument)  # type: ignore[arg-type]


async def test_values_and_a_script_of_hundreds_of_arguments_reach_redis_intact() -> None:
    redis = await connect(REDIS_URL, attempts=1, retry_delay_s=0)
    prefix = f"test-redis-client-{uuid.uuid4().hex}"
    try:
        assert redis.connection_pool.connection_class is packed_by_hiredis(Connection)
        for n, argument in enumerate(ARGUMENTS):
            await redis.set(f"{prefix}:{n}", argument)
        stored = await redis.mget([f"{prefix}:{n}" for n in range(len(ARGUMENTS))])
        assert stored == [
            b"bytes",
            "text \N{LATIN SMALL LETTER E WITH ACUTE}".encode(),
            b"0",
            b"-12",
            b"1180591620717411303424",
            b"1.5",
            b"0.1",
            b"1e+20",
            b"",
            b"view",
            b"array",
        ]
        script = redis.register_script("return {#KEYS, KEYS[#KEYS], #ARGV, ARGV[#ARGV]}")
        keys = [f"{prefix}:{key}" for key in MANY]
        answer = await script(keys=keys, args=[*MANY, "last"])
        assert answer == [300, keys[-1].encode(), 301, b"last"]
    finally:
        await redis.delete(*(f"{prefix}:{n}" for n in range(len(ARGUMENTS))))
        await redis.aclose()
