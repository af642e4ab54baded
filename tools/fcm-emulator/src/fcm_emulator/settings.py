"""Settings from command-line flags, whose defaults come from FCM_EMULATOR_* variables."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 18080
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
EVENT_LOOPS = ("auto", "uvloop", "asyncio")


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    service_account_files: tuple[Path, ...] = ()
    service_accounts_dir: Path | None = None
    strict_targets: bool = False
    access_token_ttl_s: int = 3600
    max_records: int = 100_000
    log_requests: bool = True
    log_level: str = "INFO"
    cors_origins: tuple[str, ...] = ("*",)
    heartbeat_s: float = 15.0
    # "auto": uvloop when it is installed, else asyncio's own loop.
    event_loop: str = "auto"


@dataclass(frozen=True, slots=True)
class ServiceAccountCommand:
    project_id: str
    out: Path
    emulator_url: str
    name: str


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _paths(value: str) -> list[Path]:
    return [Path(part) for part in value.split(os.pathsep) if part]


def _parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    defaults = Settings()
    parser = argparse.ArgumentParser(
        prog="fcm-emulator", description="A local stand-in for Firebase Cloud Messaging."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the emulator")
    serve.add_argument("--host", default=env.get("FCM_EMULATOR_HOST", defaults.host))
    serve.add_argument(
        "--port", type=int, default=int(env.get("FCM_EMULATOR_PORT", str(DEFAULT_PORT)))
    )
    serve.add_argument(
        "--service-account",
        dest="service_accounts",
        action="append",
        type=Path,
        metavar="FILE",
        default=_paths(env.get("FCM_EMULATOR_SERVICE_ACCOUNTS", "")),
        help="a service-account file whose key the emulator trusts (repeatable)",
    )
    serve.add_argument(
        "--service-accounts-dir",
        type=Path,
        metavar="DIR",
        default=env.get("FCM_EMULATOR_SERVICE_ACCOUNTS_DIR") or None,
        help="trust every *.json service-account file in this folder, read again on demand",
    )
    serve.add_argument(
        "--strict-targets",
        action=argparse.BooleanOptionalAction,
        default=_flag(env, "FCM_EMULATOR_STRICT_TARGETS", False),
        help="answer UNREGISTERED for well-formed targets the emulator never issued",
    )
    serve.add_argument(
        "--access-token-ttl-s",
        type=int,
        default=int(env.get("FCM_EMULATOR_ACCESS_TOKEN_TTL_S", str(defaults.access_token_ttl_s))),
    )
    serve.add_argument(
        "--max-records",
        type=int,
        default=int(env.get("FCM_EMULATOR_MAX_RECORDS", str(defaults.max_records))),
        help="how many received messages the control API keeps (oldest dropped first)",
    )
    logging_flags = serve.add_mutually_exclusive_group()
    log_requests = _flag(env, "FCM_EMULATOR_LOG_REQUESTS", True)
    logging_flags.add_argument(
        "--log-requests", dest="log_requests", action="store_true", default=log_requests
    )
    logging_flags.add_argument("--quiet", dest="log_requests", action="store_false")
    serve.add_argument("--log-level", default=env.get("FCM_EMULATOR_LOG_LEVEL", "INFO"))
    serve.add_argument(
        "--cors-origin",
        dest="cors_origins",
        action="append",
        metavar="ORIGIN",
        default=None,
        help="an origin allowed to call the browser endpoints (repeatable; default *)",
    )
    serve.add_argument(
        "--heartbeat-s",
        type=float,
        default=float(env.get("FCM_EMULATOR_HEARTBEAT_S", str(defaults.heartbeat_s))),
    )
    serve.add_argument(
        "--event-loop",
        choices=EVENT_LOOPS,
        default=env.get("FCM_EMULATOR_EVENT_LOOP", defaults.event_loop),
        help="uvloop costs less CPU per send; auto uses it when it is installed",
    )

    account = commands.add_parser(
        "service-account", help="write a development service-account file for the emulator"
    )
    account.add_argument("--project", required=True)
    account.add_argument("--out", type=Path, required=True)
    account.add_argument("--emulator-url", default=env.get("FCM_EMULATOR_URL", DEFAULT_URL))
    account.add_argument("--name", default="herald-dev", help="the account's name before the @")
    return parser


def parse_command(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> Settings | ServiceAccountCommand:
    environ = os.environ if env is None else env
    parser = _parser(environ)
    args = parser.parse_args(argv)
    if args.command == "service-account":
        return ServiceAccountCommand(args.project, args.out, args.emulator_url, args.name)
    if args.event_loop not in EVENT_LOOPS:  # a default from the environment skips `choices`
        parser.error(f"--event-loop: {args.event_loop!r} is not one of {', '.join(EVENT_LOOPS)}")
    cors = args.cors_origins or [
        o.strip() for o in environ.get("FCM_EMULATOR_CORS_ORIGINS", "*").split(",") if o.strip()
    ]
    return Settings(
        host=args.host,
        port=args.port,
        service_account_files=tuple(args.service_accounts),
        service_accounts_dir=args.service_accounts_dir,
        strict_targets=args.strict_targets,
        access_token_ttl_s=args.access_token_ttl_s,
        max_records=args.max_records,
        log_requests=args.log_requests,
        log_level=args.log_level,
        cors_origins=tuple(cors),
        heartbeat_s=args.heartbeat_s,
        event_loop=args.event_loop,
    )
