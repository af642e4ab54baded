"""The control API for tests and demos, under /emulator/v1."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from fcm_emulator.faults import FaultConfig
from fcm_emulator.state import EMULATOR
from fcm_emulator.targets import DeadReason

PREFIX = "/emulator/v1"


def bad_request(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body ({} when empty); raise 400 for anything else."""
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(
            text='{"error": "the body must be JSON"}', content_type="application/json"
        ) from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text='{"error": "the body must be a JSON object"}', content_type="application/json"
        )
    return body


async def messages(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    query = request.query
    try:
        since = float(query["since"]) if "since" in query else None
        limit = int(query["limit"]) if "limit" in query else None
    except ValueError:
        return bad_request("since must be a number of seconds and limit an integer")
    found = emulator.log.query(query.get("target"), since, limit)
    return web.json_response({"messages": [record.to_json() for record in found]})


async def reset(request: web.Request) -> web.Response:
    request.app[EMULATOR].reset()
    return web.Response(status=204)


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR].faults.config.to_json())


async def put_faults(request: web.Request) -> web.Response:
    body = await json_object(request)
    try:
        config = FaultConfig.from_json(body)
    except (ValueError, TypeError, KeyError) as exc:
        return bad_request(f"invalid fault configuration: {exc}")
    request.app[EMULATOR].faults.configure(config)
    return web.json_response(config.to_json())


async def delete_faults(request: web.Request) -> web.Response:
    request.app[EMULATOR].faults.configure(FaultConfig())
    return web.Response(status=204)


def _kill(reason: DeadReason) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        target = (await json_object(request)).get("target")
        if not isinstance(target, str) or not target:
            return bad_request("a target is required")
        request.app[EMULATOR].targets.kill(target, reason)
        return web.Response(status=204)

    return handler


async def expire_access_tokens(request: web.Request) -> web.Response:
    request.app[EMULATOR].tokens.expire_all()
    return web.Response(status=204)


async def stats(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    return web.json_response(
        {
            "totals": dict(emulator.log.totals),
            "stream_drops": emulator.hub.dropped,
            "trusted_accounts": len(emulator.keystore),
            "time": time.time(),
        }
    )


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/healthz", healthz)
    router.add_get(f"{PREFIX}/messages", messages)
    router.add_post(f"{PREFIX}/reset", reset)
    router.add_get(f"{PREFIX}/faults", get_faults)
    router.add_put(f"{PREFIX}/faults", put_faults)
    router.add_delete(f"{PREFIX}/faults", delete_faults)
    router.add_post(f"{PREFIX}/targets:unregister", _kill(DeadReason.UNREGISTERED))
    router.add_post(f"{PREFIX}/targets:expire", _kill(DeadReason.EXPIRED))
    router.add_post(f"{PREFIX}/access-tokens:expire", expire_access_tokens)
    router.add_get(f"{PREFIX}/stats", stats)
