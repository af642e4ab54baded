"""heraldctl: Herald's operator CLI. Schedule, cancel and send notifications through the
token-api's service endpoints; list a user's targets; tail delivery reports; inspect the
scheduler's pending reminders; replay dead letters into their source topics.

Settings come from flags, else HERALD_* environment variables, else the development
credentials herald-run wrote (.herald/dev/credentials.json)."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from herald import topics
from herald_dev.api import ApiError
from herald_dev.ctl_commands import (
    UsageError,
    cmd_cancel,
    cmd_deliveries,
    cmd_dlq_list,
    cmd_dlq_replay,
    cmd_pending,
    cmd_schedule,
    cmd_send_now,
    cmd_targets,
    env,
)

DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


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
        default=env("HERALD_API_URL", "http://127.0.0.1:8080"),
        help="token-api base URL (HERALD_API_URL)",
    )
    parser.add_argument("--service-key", help="service key (HERALD_SERVICE_KEY)")
    parser.add_argument(
        "--bootstrap",
        default=env("HERALD_KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
        help="Kafka (HERALD_KAFKA_BOOTSTRAP)",
    )
    parser.add_argument(
        "--namespace",
        default=env("HERALD_TOPIC_NAMESPACE"),
        help="topic namespace (HERALD_TOPIC_NAMESPACE)",
    )
    parser.add_argument(
        "--scheduler-redis-url",
        default=env("HERALD_SCHEDULER_REDIS_URL", "redis://127.0.0.1:63790/0"),
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
