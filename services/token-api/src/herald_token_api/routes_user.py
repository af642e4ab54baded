"""The user endpoints: a user manages their own push targets; the user is the JWT's ``sub``."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from herald.logs import mask
from herald_token_api import store
from herald_token_api.bodies import read_body
from herald_token_api.openapi import Endpoint, Reply
from herald_token_api.problems import Problem
from herald_token_api.schemas import (
    RefreshRequest,
    RegisterRequest,
    RegisterResponse,
    RemovedCount,
    TargetList,
    TargetView,
)
from herald_token_api.state import AUTH, POOL, REGISTRAR, SETTINGS

MASK_KEEP = 4
MAX_USER_AGENT = 512


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=model.model_dump_json(), content_type="application/json"
    )


def _new_target(body: RegisterRequest, request: web.Request) -> store.NewTarget:
    agent = body.user_agent
    if agent is None:
        agent = request.headers.get("User-Agent", "")[:MAX_USER_AGENT]
        if not agent.isprintable():
            agent = "".join(c for c in agent if c.isprintable())
    return store.NewTarget(
        value=body.value,
        kind=body.kind,
        project_id=body.project_id or "",
        platform=body.platform,
        device_label=body.device_label,
        user_agent=agent,
    )


def _registered(target: store.NewTarget, done: store.Registration) -> web.Response:
    view = TargetView(
        id=done.target_id,
        kind=target.kind,
        masked=mask(target.value, MASK_KEEP),
        project_id=target.project_id,
        platform=target.platform,
        device_label=target.device_label,
        user_agent=target.user_agent,
        created_at=done.created_at,
        last_seen_at=done.last_seen_at,
    )
    body = RegisterResponse(
        target=view, evicted=[mask(e, MASK_KEEP) for e in done.evicted], replaced=done.replaced
    )
    return _json(body, 200 if done.outcome == "touched" else 201)


async def register_target(request: web.Request) -> web.StreamResponse:
    user = await request.app[AUTH].user(request)
    body = await read_body(request, RegisterRequest)
    target = _new_target(body, request)
    done = await request.app[REGISTRAR].register(user, target)
    return _registered(target, done)


async def refresh_target(request: web.Request) -> web.StreamResponse:
    user = await request.app[AUTH].user(request)
    body = await read_body(request, RefreshRequest)
    target = _new_target(body.new, request)
    done = await request.app[REGISTRAR].register(user, target, replaces=body.old.value)
    return _registered(target, done)


async def list_targets(request: web.Request) -> web.StreamResponse:
    user = await request.app[AUTH].user(request)
    rows = await store.list_targets(request.app[POOL], user)
    views = [
        TargetView(
            id=r.target_id,
            kind=r.kind,
            masked=mask(r.target, MASK_KEEP),
            project_id=r.project_id,
            platform=r.platform,
            device_label=r.device_label,
            user_agent=r.user_agent,
            created_at=r.created_at,
            last_seen_at=r.last_seen_at,
        )
        for r in rows
    ]
    return _json(TargetList(targets=views, max_targets=request.app[SETTINGS].max_targets_per_user))


async def unregister_target(request: web.Request) -> web.StreamResponse:
    user = await request.app[AUTH].user(request)
    removed = await store.unregister(request.app[POOL], user, [request.match_info["target_id"]])
    if not removed:
        raise Problem(404, "not-found", "you have no target with this id")
    return web.Response(status=204)


async def unregister_all_targets(request: web.Request) -> web.StreamResponse:
    user = await request.app[AUTH].user(request)
    removed = await store.unregister(request.app[POOL], user, None)
    return _json(RemovedCount(removed=removed))


TARGET_ID = {"target_id": "[0-9a-f]{32}"}
ENDPOINTS = [
    Endpoint(
        "PUT",
        "/v1/targets",
        register_target,
        "Register this device's target, or touch it (last seen now); it moves to the caller",
        "user",
        {
            200: Reply("Known target, touched", RegisterResponse),
            201: Reply("New target for the caller", RegisterResponse),
        },
        request=RegisterRequest,
    ),
    Endpoint(
        "POST",
        "/v1/targets/refresh",
        refresh_target,
        "Replace the caller's old target with a new one, atomically",
        "user",
        {
            200: Reply("New target was known, touched", RegisterResponse),
            201: Reply("New target registered", RegisterResponse),
        },
        request=RefreshRequest,
    ),
    Endpoint(
        "GET",
        "/v1/targets",
        list_targets,
        "List the caller's targets (masked)",
        "user",
        {200: Reply("The caller's targets", TargetList)},
    ),
    Endpoint(
        "DELETE",
        "/v1/targets/{target_id}",
        unregister_target,
        "Unregister one of the caller's targets (log out this device)",
        "user",
        {204: Reply("Removed"), 404: Reply("The caller has no such target")},
        path_params=TARGET_ID,
    ),
    Endpoint(
        "DELETE",
        "/v1/targets",
        unregister_all_targets,
        "Unregister all of the caller's targets (log out everywhere)",
        "user",
        {200: Reply("How many targets were removed", RemovedCount)},
    ),
]
