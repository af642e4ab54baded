"""heraldctl: Herald's operator CLI. Schedule, cancel and send notifications through the
token-api's service endpoints; list a user's targets; tail delivery reports; inspect the
scheduler's pending reminders; replay dead letters into their source topics.

Settings come from flags, else HERALD_* environment variables, else the development
credentials herald-run wrote (.herald/dev/credentials.json)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped,unused-ignore]
from redis.asyncio import Redis

from herald import topics
from herald.logs import mask
from herald.producer import Producer
from herald_dev import deliveries, dlq
from herald_dev.api import ApiError, TokenApi
from herald_dev.credentials import AUDIENCE, ISSUER, DevCredentials
from herald_dev.kafka_read import follow
from herald_dev.layout import StateDirs, find_root
from herald_dev.pending import pending

DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
LIST_JWT_TTL_S = 300
MASK_KEEP = 4

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


class UsageError(Exception):
    """A setting is missing or a value cannot work; printed without a traceback."""


def duration(text: str) -> timedelta:
    """``90s``, ``5m``, ``2h``, ``1d``, ``250ms`` or a plain number of seconds."""
    match = DURATION.fullmatch(text.strip())
    if match:
        return timedelta(seconds=float(match[1]) * UNIT_S[match[2]])
    try:
        return timedelta(seconds=float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (say 30s, 5m, 2h)") from None


def instant(text: str) -> datetime:
    """An ISO 8601 time with an offset, or a duration meaning that long ago."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return datetime.now(UTC) - duration(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the offset too: {text}+00:00")
    return moment


def _env(name: str, default: str = "") -> str:
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
    key = args.service_key or _env("HERALD_SERVICE_KEY")
    if not key:
        dev = _dev_credentials(args)
        key = dev.service_key if dev else ""
    if not key:
        raise UsageError("no service key: pass --service-key or set HERALD_SERVICE_KEY")
    return str(key)


def user_credentials(args: argparse.Namespace) -> DevCredentials:
    """What mints a user JWT: HERALD_JWT_HS256_SECRET (+ issuer, audience), else the dev file."""
    secret = _env("HERALD_JWT_HS256_SECRET")
    if secret:
        return DevCredentials(
            jwt_secret=secret,
            service_key="",
            issuer=_env("HERALD_JWT_ISSUER", ISSUER),
            audience=_env("HERALD_JWT_AUDIENCE", AUDIENCE),
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
        url = args.database_url or _env("HERALD_DATABASE_URL", "")
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


def _content_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", required=True, help="the user to notify")
    parser.add_argument("--title", required=True)
    parser.add_argument("--body", default="")
    parser.add_argument("--link", help="https URL opened when the notification is clicked")
    parser.add_argument("--icon", help="https URL of the icon")
    parser.add_argument(
        "--data", action="append", metavar="KEY=VALUE", help="data for the app (repeatable)"
    )


def _dlq_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", help="only this herald-dlq-reason")
    parser.add_argument(
        "--source-topic",
        choices=[t.name for t in topics.ALL_TOPICS if t is not topics.DLQ],
        help="only records dead-lettered from this topic",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heraldctl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--api",
        default=_env("HERALD_API_URL", "http://127.0.0.1:8080"),
        help="token-api base URL (HERALD_API_URL)",
    )
    parser.add_argument("--service-key", help="service key (HERALD_SERVICE_KEY)")
    parser.add_argument(
        "--bootstrap",
        default=_env("HERALD_KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
        help="Kafka (HERALD_KAFKA_BOOTSTRAP)",
    )
    parser.add_argument(
        "--namespace",
        default=_env("HERALD_TOPIC_NAMESPACE"),
        help="topic namespace (HERALD_TOPIC_NAMESPACE)",
    )
    parser.add_argument(
        "--scheduler-redis-url",
        default=_env("HERALD_SCHEDULER_REDIS_URL", "redis://127.0.0.1:63790/0"),
        help="the scheduler's Redis (HERALD_SCHEDULER_REDIS_URL)",
    )
    parser.add_argument(
        "--state-dir", type=Path, help="where herald-run keeps dev credentials (.herald)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    schedule = commands.add_parser("schedule", help="schedule a reminder (POST /v1/reminders)")
    _content_flags(schedule)
    when = schedule.add_mutually_exclusive_group(required=True)
    when.add_argument("--in", dest="in_", type=duration, metavar="DURATION", help="e.g. 30s, 2h")
    when.add_argument("--at", type=instant, metavar="TIME", help="ISO 8601 with an offset")
    schedule.add_argument("--rrule", help="RFC 5545 RRULE, e.g. FREQ=DAILY (no 'RRULE:')")
    schedule.add_argument("--time-zone", default="UTC", help="IANA zone the RRULE runs in")
    schedule.add_argument(
        "--expires-in",
        type=duration,
        default=timedelta(hours=1),
        metavar="DURATION",
        help="the reminder is dropped this long after its fire time (default 1h)",
    )
    schedule.add_argument("--id", help="reminder id (makes a retried command idempotent)")
    schedule.set_defaults(run=cmd_schedule)

    cancel = commands.add_parser("cancel", help="cancel a reminder (DELETE /v1/reminders/ID)")
    cancel.add_argument("reminder_id")
    cancel.set_defaults(run=cmd_cancel)

    send_now = commands.add_parser("send-now", help="notify a user now (POST /v1/notifications)")
    _content_flags(send_now)
    send_now.add_argument("--ttl-s", type=int, default=3600, help="not delivered after this")
    send_now.set_defaults(run=cmd_send_now)

    targets = commands.add_parser(
        "targets",
        help="list a user's targets (masked)",
        description="By default as the user, through GET /v1/targets with a short-lived JWT "
        "minted with HERALD_JWT_HS256_SECRET (or the dev secret); with --from-db, from "
        "PostgreSQL in a read-only session.",
    )
    targets.add_argument("user")
    targets.add_argument("--from-db", action="store_true", help="read push_tokens instead")
    targets.add_argument("--database-url", help="PostgreSQL (HERALD_DATABASE_URL)")
    targets.add_argument("--json", action="store_true", help="one JSON object per line")
    targets.set_defaults(run=cmd_targets)

    tail = commands.add_parser("deliveries", help="tail delivery reports (herald.deliveries.v1)")
    tail.add_argument("--user", help="only this user's")
    tail.add_argument("--from-beginning", action="store_true", help="what the topic still holds")
    tail.add_argument("--count", type=int, default=0, help="stop after this many (0: Ctrl-C)")
    tail.add_argument("--json", action="store_true", help="one JSON object per line")
    tail.set_defaults(run=cmd_deliveries)

    waiting = commands.add_parser("pending", help="reminders waiting in the scheduler's Redis")
    waiting.add_argument("--user", help="only this user's")
    waiting.add_argument("--limit", type=int, default=0, help="the soonest N")
    waiting.add_argument("--json", action="store_true", help="one JSON object per line")
    waiting.set_defaults(run=cmd_pending)

    dead = commands.add_parser("dlq", help="the dead-letter topic")
    dead_commands = dead.add_subparsers(dest="dlq_command", required=True, metavar="COMMAND")
    listing = dead_commands.add_parser("list", help="show dead letters")
    _dlq_filters(listing)
    listing.add_argument("--since", type=instant, metavar="TIME", help="ISO time or e.g. 2h")
    listing.add_argument("--limit", type=int, default=0, help="the newest N")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=cmd_dlq_list)
    again = dead_commands.add_parser(
        "replay",
        help="write dead letters back to their source topics",
        description="Each record's original key, value and headers go back to the topic named "
        "in its herald-dlq-source-topic header. Choose the range: --since or --all.",
    )
    _dlq_filters(again)
    since = again.add_mutually_exclusive_group(required=True)
    since.add_argument("--since", type=instant, metavar="TIME", help="ISO time or e.g. 2h")
    since.add_argument("--all", action="store_true", help="everything the topic still holds")
    again.add_argument("--limit", type=int, default=0, help="the oldest N")
    again.add_argument("--dry-run", action="store_true", help="list what would be replayed")
    again.set_defaults(run=cmd_dlq_replay)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    if getattr(args, "all", False):
        args.since = None
    return args


async def run(args: argparse.Namespace) -> int:
    command: Command = args.run
    try:
        return await command(args)
    except UsageError as exc:
        print(f"heraldctl: {exc}", file=sys.stderr)
        return 2
    except ApiError as exc:
        print(f"heraldctl: the token-api refused: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"heraldctl: cannot reach a service: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        code = asyncio.run(run(args))
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
