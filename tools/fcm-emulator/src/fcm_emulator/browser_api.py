"""The browser side, under /browser/v1: targets issued as the Firebase JS SDK's getToken/getId
would, and a Server-Sent Events stream of what FCM delivers to a target."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web

from fcm_emulator.control import bad_request, json_object
from fcm_emulator.state import EMULATOR
from fcm_emulator.targets import FID_RE, TOKEN_RE, DeadReason, TargetKind

PREFIX = "/browser/v1"
_CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "600",
}


async def issue(request: web.Request) -> web.Response:
    emulator = request.config_dict[EMULATOR]
    body = await json_object(request)
    try:
        kind = TargetKind(body.get("kind", TargetKind.TOKEN.value))
    except ValueError:
        return bad_request("kind must be 'token' or 'fid'")
    ttl_s = body.get("ttl_s")
    if ttl_s is not None and (not isinstance(ttl_s, int | float) or ttl_s <= 0):
        return bad_request("ttl_s must be a positive number of seconds")
    project_id = request.match_info["project_id"]
    issued = emulator.targets.issue(project_id, kind, time.time(), ttl_s)
    return web.json_response(issued.to_json(), status=201)


async def _target_of(request: web.Request) -> str:
    target = (await json_object(request)).get("target")
    if not isinstance(target, str) or not target:
        raise web.HTTPBadRequest(
            text='{"error": "a target is required"}', content_type="application/json"
        )
    return target


async def rotate(request: web.Request) -> web.Response:
    emulator = request.config_dict[EMULATOR]
    issued = emulator.targets.rotate(await _target_of(request), time.time())
    if issued is None:
        return web.json_response({"error": "no live target by that value"}, status=404)
    return web.json_response(issued.to_json(), status=201)


async def delete(request: web.Request) -> web.Response:
    emulator = request.config_dict[EMULATOR]
    emulator.targets.kill(await _target_of(request), DeadReason.DELETED)
    return web.Response(status=204)


def _event(name: str, data: str, event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {name}\ndata: {data}\n\n".encode()


async def stream(request: web.Request) -> web.StreamResponse:
    """`event: ready` once subscribed, then one `event: message` per delivered message whose
    data is the Firebase JS SDK's MessagePayload; a comment line as keep-alive."""
    emulator = request.config_dict[EMULATOR]
    target = request.query.get("target", "")
    if not (TOKEN_RE.fullmatch(target) or FID_RE.fullmatch(target)):
        return bad_request("target must be a registration token or a Firebase Installation ID")
    now = time.time()
    reason = emulator.targets.dead_reason(target, now)
    if reason is not None:
        return web.json_response({"error": f"target is {reason.value}"}, status=410)
    if emulator.targets.strict and emulator.targets.get(target, now) is None:
        return web.json_response({"error": "target was never issued"}, status=404)

    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    queue = emulator.hub.subscribe(target)
    try:
        await response.write(_event("ready", "{}"))
        while True:
            try:
                payload = await asyncio.wait_for(queue.get(), emulator.settings.heartbeat_s)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if payload is None:
                break
            data = json.dumps(payload, separators=(",", ":"))
            await response.write(_event("message", data, payload["messageId"]))
    except ConnectionResetError:
        pass
    finally:
        emulator.hub.unsubscribe(target, queue)
    return response


async def preflight(request: web.Request) -> web.Response:
    return web.Response(status=204, headers=_CORS_HEADERS)


async def _cors(request: web.Request, response: web.StreamResponse) -> None:
    origin = request.headers.get("Origin")
    if origin is None:
        return
    allowed = request.config_dict[EMULATOR].settings.cors_origins
    if "*" in allowed:
        response.headers["Access-Control-Allow-Origin"] = "*"
    elif origin in allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"


def create_browser_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/projects/{project_id}/targets", issue)
    app.router.add_post("/targets:rotate", rotate)
    app.router.add_post("/targets:delete", delete)
    app.router.add_get("/stream", stream)
    app.router.add_route("OPTIONS", "/{tail:.*}", preflight)
    app.on_response_prepare.append(_cors)
    return app
