"""heraldctl's commands: each takes the parsed arguments and returns the exit code."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped,unused-ignore]
from redis.asyncio import Redis

from herald import topics
from herald.logs import mask
from herald.producer import Producer
from herald_dev import deliveries, dlq
from herald_dev.api import TokenApi
from herald_dev.credentials import AUDIENCE, ISSUER, DevCredentials
from herald_dev.kafka_read import follow
from herald_dev.layout import StateDirs, find_root
from herald_dev.pending import pending

LIST_JWT_TTL_S = 300
MASK_KEEP = 4


class UsageError(Exception):
    """A setting is missing or a value cannot work; printed without a traceback."""


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def _dev_credentials(args: argparse.Namespace) -> DevCredentials | None:
    state = args.state_dir
    if state is None:
        try:
            state = find_root() / ".herald"
        except FileNotFoundError:
            state = Path(".herald")
    path = StateDirs(state).credentials
    return DevCredentials.load(path) if path.is_file() else None


def service_key(args: argparse.Namespace) -> str:
    key = args.service_key or env("HERALD_SERVICE_KEY")
    if not key:
        dev = _dev_credentials(args)
        key = dev.service_key if dev else ""
    if not key:
        raise UsageError("no service key: pass --service-key or set HERALD_SERVICE_KEY")
    return str(key)


def user_credentials(args: argparse.Namespace) -> DevCredentials:
    """What mints a user JWT: HERALD_JWT_HS256_SECRET (+ issuer, audience), else the dev file."""
    secret = env("HERALD_JWT_HS256_SECRET")
    if secret:
        return DevCredentials(
            jwt_secret=secret,
            service_key="",
            issuer=env("HERALD_JWT_ISSUER", ISSUER),
            audience=env("HERALD_JWT_AUDIENCE", AUDIENCE),
        )
    dev = _dev_credentials(args)
    if dev is None:
        raise UsageError(
            "no HS256 secret to act as the user: set HERALD_JWT_HS256_SECRET, or use --from-db"
        )
    return dev


def content(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"title": args.title}
    if args.body:
        body["body"] = args.body
    if args.link:
        body["click_link"] = args.link
    if args.icon:
        body["icon"] = args.icon
    if args.data:
        body["data"] = dict(item.split("=", 1) for item in args.data)
    return body


def emit(rows: list[dict[str, Any]], as_json: bool, line: Callable[[dict[str, Any]], str]) -> None:
    for row in rows:
        print(json.dumps(row) if as_json else line(row), flush=True)


async def cmd_schedule(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    fire_at = args.at or now + (args.in_ or timedelta(0))
    expires_at = fire_at + args.expires_in
    async with TokenApi(args.api, service_key=service_key(args)) as api:
        reminder_id = await api.schedule(
            args.user,
            content(args),
            fire_at,
            expires_at,
            reminder_id=args.id,
            rrule=args.rrule,
            time_zone=args.time_zone,
        )
    print(f"scheduled {reminder_id} for {args.user} at {fire_at.isoformat()}")
    return 0


async def cmd_cancel(args: argparse.Namespace) -> int:
    async with TokenApi(args.api, service_key=service_key(args)) as api:
        await api.cancel(args.reminder_id)
    print(f"cancelled {args.reminder_id}")
    return 0


async def cmd_send_now(args: argparse.Namespace) -> int:
    async with TokenApi(args.api, service_key=service_key(args)) as api:
        notification_id = await api.send_now(args.user, content(args), ttl_s=args.ttl_s)
    print(f"sent {notification_id} to {args.user}")
    return 0


def _target_line(row: dict[str, Any]) -> str:
    return (
        f"{row['id']}  {row['kind']:<5} {row['masked']:<12} {row['project_id'] or '-':<14} "
        f"last seen {row['last_seen_at']}  {row['device_label'] or row['user_agent'][:40]}"
    )


async def cmd_targets(args: argparse.Namespace) -> int:
    if args.from_db:
        url = args.database_url or env("HERALD_DATABASE_URL", "")
        if not url:
            raise UsageError("pass --database-url or set HERALD_DATABASE_URL")
        connection = await asyncpg.connect(
            url, server_settings={"default_transaction_read_only": "on"}
        )
        try:
            found = await connection.fetch(
                "SELECT target, target_id, kind, project_id, platform, device_label, user_agent,"
                " created_at, last_seen_at FROM push_tokens WHERE user_id = $1"
                " ORDER BY last_seen_at DESC",
                args.user,
            )
        finally:
            await connection.close()
        rows = [
            {
                "id": r["target_id"],
                "kind": r["kind"],
                "masked": mask(r["target"], MASK_KEEP),
                "project_id": r["project_id"],
                "platform": r["platform"],
                "device_label": r["device_label"],
                "user_agent": r["user_agent"],
                "created_at": r["created_at"].isoformat(),
                "last_seen_at": r["last_seen_at"].isoformat(),
            }
            for r in found
        ]
    else:
        jwt = user_credentials(args).user_jwt(args.user, ttl_s=LIST_JWT_TTL_S)
        async with TokenApi(args.api) as api:
            rows = await api.targets(jwt)
    if not rows and not args.json:
        print(f"{args.user} has no targets")
    emit(rows, args.json, _target_line)
    return 0


async def cmd_deliveries(args: argparse.Namespace) -> int:
    topic = args.namespace + topics.DELIVERIES.name
    shown = 0
    async for record in follow(args.bootstrap, topic, from_beginning=args.from_beginning):
        report = deliveries.decode(record)
        if report is None or (args.user and report.user_id != args.user):
            continue
        emit([deliveries.view(report, record.timestamp_ms)], args.json, deliveries.line)
        shown += 1
        if args.count and shown >= args.count:
            break
    return 0


def _pending_line(row: dict[str, Any]) -> str:
    flags = " ".join(
        flag
        for flag, on in (
            ("in-flight", row["in_flight"]),
            ("retry", row["retry"]),
            (f"rrule={row['rrule']} tz={row['time_zone']}", row["rrule"]),
        )
        if on
    )
    return (
        f"{row['fire_at']}  {row['reminder_id']:<36} {row['user_id'] or '?':<20} "
        f"{row['title'] or ''!r} {flags}".rstrip()
    )


async def cmd_pending(args: argparse.Namespace) -> int:
    redis = Redis.from_url(args.scheduler_redis_url)
    try:
        found = await pending(redis, args.namespace)
    finally:
        await redis.aclose()
    if args.user:
        found = [p for p in found if p.reminder is not None and p.reminder.user_id == args.user]
    rows = [p.to_json() for p in found]
    if args.limit:
        rows = rows[: args.limit]
    if not rows and not args.json:
        print("no pending reminders")
    emit(rows, args.json, _pending_line)
    return 0


def _letter_line(row: dict[str, Any]) -> str:
    return (
        f"{row['at']}  {row['partition']}:{row['offset']:<6} {row['reason']:<22} "
        f"from {row['source_topic']}@{row['source_partition']}:{row['source_offset']} "
        f"({row['type'] or 'no type'}, {row['bytes']} bytes) {row['detail'][:80]}"
    )


async def _letters(args: argparse.Namespace) -> list[dlq.DeadLetter]:
    since_ms = int(args.since.timestamp() * 1000) if args.since else None
    return await dlq.dead_letters(
        args.bootstrap, args.namespace, since_ms, args.reason, args.source_topic
    )


async def cmd_dlq_list(args: argparse.Namespace) -> int:
    letters = await _letters(args)
    if args.limit:
        letters = letters[-args.limit :]
    if not letters and not args.json:
        print("no dead letters")
    emit([d.to_json() for d in letters], args.json, _letter_line)
    return 0


async def cmd_dlq_replay(args: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    letters = await _letters(args)
    if args.limit:
        letters = letters[: args.limit]
    if args.dry_run:
        emit([d.to_json() for d in letters], False, _letter_line)
        print(f"dry run: {len(letters)} dead letters would be replayed")
        return 0
    async with Producer(args.bootstrap, client_id="heraldctl") as producer:
        skipped = await dlq.replay(producer, letters, args.namespace)
    for letter in skipped:
        print(f"skipped {_letter_line(letter.to_json())}: not a topic of this namespace")
    print(
        f"replayed {len(letters) - len(skipped)} dead letters into their source topics; "
        f"any that fail again are dead-lettered after {started.isoformat()}"
    )
    return 1 if skipped else 0
