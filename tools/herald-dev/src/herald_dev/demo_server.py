"""The demo page's server: the static files of web/, plus a few DEVELOPMENT-ONLY endpoints that
stand in for the product's own backend — a login that mints demo-user JWTs with the dev secret,
reminders scheduled through the token-api's service endpoints, and a live feed of the user's
delivery reports read from herald.deliveries.v1.

Never expose it: anyone who reaches it can act as any user.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jwt
from aiohttp import web

from herald import topics
from herald_dev import deliveries
from herald_dev.api import ApiError, TokenApi
from herald_dev.credentials import DevCredentials
from herald_dev.kafka_read import follow

log = logging.getLogger(__name__)

USER_PATTERN = re.compile(r"[A-Za-z0-9._@-]{1,64}")
TIME_PATTERN = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
MAX_TIMER_S = 24 * 3600
RECENT_REPORTS = 20
KEEP_ALIVE_S = 15.0
TAIL_RETRY_S = 2.0


@dataclass(frozen=True)
class DemoConfig:
    web_dir: Path
    api_url: str
    emulator_url: str
    project_id: str
    kafka_bootstrap: str
    namespace: str
    credentials: DevCredentials


@dataclass
class Reminder:
    reminder_id: str
    what: str
    fire_at: datetime
    recurring: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "reminder_id": self.reminder_id,
            "what": self.what,
            "fire_at": self.fire_at.isoformat(),
            "recurring": self.recurring,
        }


@dataclass
class Feed:
    """Recent delivery summaries per user and the open streams that want new ones."""

    recent: dict[str, deque[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(lambda: deque(maxlen=RECENT_REPORTS))
    )
    listeners: dict[str, set[asyncio.Queue[dict[str, Any]]]] = field(
        default_factory=lambda: defaultdict(set)
    )

    def publish(self, summary: dict[str, Any]) -> None:
        user = summary["user_id"]
        self.recent[user].append(summary)
        for queue in self.listeners.get(user, ()):
            queue.put_nowait(summary)


CONFIG = web.AppKey("config", DemoConfig)
API = web.AppKey("api", TokenApi)
FEED = web.AppKey("feed", Feed)
REMINDERS = web.AppKey("reminders", dict[str, dict[str, Reminder]])


def _problem(status: int, detail: str) -> web.Response:
    return web.json_response({"status": status, "detail": detail}, status=status)


def _user(request: web.Request, token: str | None = None) -> str:
    """The user of the request's demo JWT (Authorization header, or ``token``)."""
    if token is None:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
    try:
        return request.app[CONFIG].credentials.user_of(token)
    except jwt.InvalidTokenError:
        raise web.HTTPUnauthorized(
            text=json.dumps({"status": 401, "detail": "sign in again"}),
            content_type="application/json",
        ) from None


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except json.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"detail": "send a JSON object"}')
    return body


async def config_json(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    return web.json_response(
        {
            "apiBase": config.api_url,
            "mode": "emulator",
            "emulator": {"url": config.emulator_url, "projectId": config.project_id},
            "projectId": config.project_id,
        }
    )


async def dev_session(request: web.Request) -> web.Response:
    """DEV ONLY: a JWT for any user name, as the product's login would issue."""
    user = str((await _body(request)).get("user", ""))
    if not USER_PATTERN.fullmatch(user):
        return _problem(422, "a user name is 1-64 letters, digits, '.', '_', '@' or '-'")
    credentials = request.app[CONFIG].credentials
    return web.json_response({"user": user, "token": credentials.user_jwt(user)})


def _link(request: web.Request, reminder_id: str) -> str:
    return f"{request.scheme}://{request.host}/?reminder={reminder_id}"


def _daily_fire_at(at: str, zone_name: str) -> datetime:
    match = TIME_PATTERN.fullmatch(at)
    if match is None:
        raise ValueError("time is HH:MM")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone_name!r}") from None
    now = datetime.now(zone)
    wanted = time(int(match[1]), int(match[2]))
    fire_at = datetime.combine(now.date(), wanted, zone)
    if fire_at <= now:
        fire_at = datetime.combine(now.date() + timedelta(days=1), wanted, zone)
    return fire_at


async def schedule(request: web.Request) -> web.Response:
    """Plays the product backend: schedules a reminder for the signed-in user."""
    user = _user(request)
    body = await _body(request)
    reminder_id = f"demo-{secrets.token_hex(8)}"
    data = {"link": _link(request, reminder_id)}
    kind = body.get("kind")
    api = request.app[API]
    try:
        if kind == "timer":
            seconds = body.get("seconds")
            if type(seconds) is not int or not 1 <= seconds <= MAX_TIMER_S:
                return _problem(422, f"seconds is a whole number from 1 to {MAX_TIMER_S}")
            fire_at = datetime.now(UTC) + timedelta(seconds=seconds)
            content = {
                "title": "Timer done",
                "body": f"Your {seconds}-second timer ended.",
                "data": data,
            }
            reminder = Reminder(reminder_id, f"timer, {seconds} s", fire_at, recurring=False)
            await api.schedule(
                user, content, fire_at, fire_at + timedelta(hours=1), reminder_id=reminder_id
            )
        elif kind == "daily":
            at, zone = str(body.get("time", "")), str(body.get("time_zone", ""))
            try:
                fire_at = _daily_fire_at(at, zone)
            except ValueError as exc:
                return _problem(422, str(exc))
            content = {"title": "Daily reminder", "body": f"It is {at} in {zone}.", "data": data}
            reminder = Reminder(reminder_id, f"every day at {at} ({zone})", fire_at, recurring=True)
            await api.schedule(
                user,
                content,
                fire_at,
                fire_at + timedelta(days=365),
                reminder_id=reminder_id,
                rrule="FREQ=DAILY",
                time_zone=zone,
            )
        else:
            return _problem(422, "kind is 'timer' or 'daily'")
    except ApiError as exc:
        return _problem(502, f"the token-api refused: {exc}")
    request.app[REMINDERS].setdefault(user, {})[reminder_id] = reminder
    return web.json_response(reminder.to_json(), status=201)


async def list_reminders(request: web.Request) -> web.Response:
    user = _user(request)
    now = datetime.now(UTC)
    mine = request.app[REMINDERS].get(user, {})
    for reminder_id in [
        r.reminder_id for r in mine.values() if not r.recurring and r.fire_at < now
    ]:
        del mine[reminder_id]
    return web.json_response({"reminders": [r.to_json() for r in mine.values()]})


async def cancel(request: web.Request) -> web.Response:
    user = _user(request)
    reminder_id = request.match_info["reminder_id"]
    mine = request.app[REMINDERS].get(user, {})
    if reminder_id not in mine:
        return _problem(404, "you have no such reminder")
    try:
        await request.app[API].cancel(reminder_id)
    except ApiError as exc:
        return _problem(502, f"the token-api refused: {exc}")
    del mine[reminder_id]
    return web.Response(status=204)


async def delivery_feed(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: the user's recent delivery reports, then each new one."""
    user = _user(request, request.query.get("access_token", ""))
    feed = request.app[FEED]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for summary in feed.recent.get(user, ()):
        queue.put_nowait(summary)
    feed.listeners[user].add(queue)
    try:
        while True:
            try:
                summary = await asyncio.wait_for(queue.get(), KEEP_ALIVE_S)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            await response.write(f"event: delivery\ndata: {json.dumps(summary)}\n\n".encode())
    except ConnectionResetError:
        pass
    finally:
        feed.listeners[user].discard(queue)
    return response


async def _tail(config: DemoConfig, feed: Feed) -> None:
    topic = config.namespace + topics.DELIVERIES.name
    while True:
        try:
            async for record in follow(config.kafka_bootstrap, topic):
                report = deliveries.decode(record)
                if report is not None:
                    feed.publish(deliveries.view(report, record.timestamp_ms))
        except Exception as exc:
            log.warning("reading %s failed, trying again: %s", topic, exc)
            await asyncio.sleep(TAIL_RETRY_S)


async def _resources(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    async with TokenApi(config.api_url, service_key=config.credentials.service_key) as api:
        app[API] = api
        tail = asyncio.create_task(_tail(config, app[FEED]))
        yield
        tail.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tail


async def _no_cache(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Cache-Control", "no-cache")


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(request.app[CONFIG].web_dir / "index.html")


def create_app(config: DemoConfig) -> web.Application:
    app = web.Application()
    app[CONFIG] = config
    app[FEED] = Feed()
    app[REMINDERS] = {}
    app.cleanup_ctx.append(_resources)
    app.on_response_prepare.append(_no_cache)
    app.router.add_get("/", index)
    app.router.add_get("/config.json", config_json)
    app.router.add_post("/dev/session", dev_session)
    app.router.add_post("/dev/reminders", schedule)
    app.router.add_get("/dev/reminders", list_reminders)
    app.router.add_delete("/dev/reminders/{reminder_id}", cancel)
    app.router.add_get("/dev/deliveries", delivery_feed)
    app.router.add_static("/", config.web_dir)
    return app


@contextlib.asynccontextmanager
async def serving(config: DemoConfig, host: str, port: int) -> AsyncIterator[None]:
    runner = web.AppRunner(create_app(config), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        yield
    finally:
        await runner.cleanup()
