"""Outbox rows (a user's complete token set after one change) and the TokenSet events they
become. The rows are written by the SQL functions in migrations/; this module reads them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from herald.v1 import common_pb2, tokens_pb2
from herald_token_api.db import Connection
from herald_token_api.names import OUTBOX_TABLE, RELAY_STATE_TABLE

KINDS = {"token": common_pb2.TARGET_KIND_TOKEN, "fid": common_pb2.TARGET_KIND_FID}
PLATFORMS = {
    "web": common_pb2.PLATFORM_WEB,
    "android": common_pb2.PLATFORM_ANDROID,
    "ios": common_pb2.PLATFORM_IOS,
}


@dataclass(frozen=True)
class OutboxRow:
    id: int
    event_id: str
    user_id: str
    # The user's targets as the SQL wrote them; empty when the user has none left.
    targets: list[dict[str, Any]]
    trace_id: str
    created_at: datetime


@dataclass(frozen=True)
class Backlog:
    rows: int
    oldest_age_s: float


def _timestamp_us(micros: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromMicroseconds(micros)
    return stamp


def token_set(row: OutboxRow) -> tokens_pb2.TokenSet | None:
    """The event for ``row``; None (a tombstone) when the user has no targets left."""
    if not row.targets:
        return None
    occurred_at = Timestamp()
    occurred_at.FromDatetime(row.created_at)
    return tokens_pb2.TokenSet(
        event_id=row.event_id,
        occurred_at=occurred_at,
        user_id=row.user_id,
        version=row.id,
        tokens=[
            tokens_pb2.TokenEntry(
                target=common_pb2.Target(
                    kind=KINDS[t["kind"]], value=t["value"], project_id=t["project_id"]
                ),
                platform=PLATFORMS[t["platform"]],
                device_label=t["device_label"],
                created_at=_timestamp_us(t["created_us"]),
                last_seen_at=_timestamp_us(t["last_seen_us"]),
            )
            for t in row.targets
        ],
    )


async def pending(connection: Connection, limit: int) -> list[OutboxRow]:
    """The oldest unpublished rows, in commit order per user (ids grow under the user's lock)."""
    rows = await connection.fetch(
        f"SELECT id, event_id::text, user_id, targets::text, trace_id, created_at"
        f" FROM {OUTBOX_TABLE} ORDER BY id LIMIT $1",
        limit,
    )
    return [
        OutboxRow(
            id=r["id"],
            event_id=r["event_id"],
            user_id=r["user_id"],
            targets=json.loads(r["targets"]),
            trace_id=r["trace_id"],
            created_at=r["created_at"],
        )
        for r in rows
    ]


async def delete(connection: Connection, ids: list[int]) -> None:
    await connection.execute(f"DELETE FROM {OUTBOX_TABLE} WHERE id = ANY($1::bigint[])", ids)


async def set_relay_idle(connection: Connection, idle: bool) -> None:
    """Say whether the relay waits for a NOTIFY; writers send one only while it does."""
    await connection.execute(f"UPDATE {RELAY_STATE_TABLE} SET idle = $1", idle)


async def backlog(connection: Connection) -> Backlog:
    row = await connection.fetchrow(
        f"SELECT count(*) AS n,"
        f" coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)::float8 AS age"
        f" FROM {OUTBOX_TABLE}"
    )
    return Backlog(rows=row["n"], oldest_age_s=row["age"])
