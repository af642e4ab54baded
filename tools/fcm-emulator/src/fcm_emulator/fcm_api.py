"""The Google-facing endpoints: the OAuth token exchange and FCM HTTP v1 `messages:send`."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from fcm_emulator import errors
from fcm_emulator.errors import FcmError, FcmErrorCode
from fcm_emulator.messages import TARGET_FIELDS, collapse_key, parse_send_request
from fcm_emulator.oauth import GOOGLE_TOKEN_URI, JWT_BEARER_GRANT, OAuthError, verify_assertion
from fcm_emulator.records import ReceivedMessage
from fcm_emulator.state import EMULATOR, Emulator
from fcm_emulator.streams import sender_id
from fcm_emulator.targets import TargetKind

SEND_PATH = "/v1/projects/{project_id}/messages:send"
TOKEN_PATH = "/token"
DRY_RUN_ID = "fake_message_id"
_DELIVERED_KINDS = frozenset({TargetKind.TOKEN.value, TargetKind.FID.value})


async def token(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    form = await request.post()
    grant_type = form.get("grant_type")
    if grant_type != JWT_BEARER_GRANT:
        shown = grant_type if isinstance(grant_type, str) else ""
        return errors.oauth_error("unsupported_grant_type", f"Invalid grant_type: {shown}")
    assertion = form.get("assertion")
    if not isinstance(assertion, str) or not assertion:
        return errors.oauth_error("invalid_request", "Missing required parameter: assertion")
    audiences = frozenset({GOOGLE_TOKEN_URI, str(request.url.with_query(None))})
    now = time.time()
    try:
        client_email, project_id = verify_assertion(assertion, emulator.keystore, audiences, now)
    except OAuthError as exc:
        return errors.oauth_error(exc.error, exc.description)
    access_token = emulator.tokens.issue(client_email, project_id, now)
    return web.json_response(
        {
            "access_token": access_token,
            "expires_in": emulator.tokens.ttl_s,
            "token_type": "Bearer",
        }
    )


def _described(body: Any) -> tuple[str | None, str | None, bool, Any]:
    """Best-effort (target kind, target, validate_only, message) of a body that may be invalid."""
    if not isinstance(body, dict):
        return None, None, False, None
    message = body.get("message")
    validate_only = body.get("validate_only", body.get("validateOnly")) is True
    if isinstance(message, dict):
        for kind in TARGET_FIELDS:
            value = message.get(kind)
            if isinstance(value, str):
                return kind, value, validate_only, message
    return None, None, validate_only, message


def _reject(emulator: Emulator, project_id: str, now: float, body: Any, err: FcmError) -> None:
    kind, target, validate_only, message = _described(body)
    record = ReceivedMessage(
        received_at=now,
        project_id=project_id,
        target_kind=kind,
        target=target,
        validate_only=validate_only,
        status=err.http_status,
        name=None,
        error_code=err.code.value,
        message=message,
    )
    emulator.log.add(record)


async def send(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    now = time.time()
    authorization = request.headers.get("Authorization")
    if not authorization:
        return errors.unauthenticated(missing=True)
    scheme, _, bearer = authorization.partition(" ")
    grant = emulator.tokens.lookup(bearer, now) if scheme.lower() == "bearer" else None
    if grant is None:
        return errors.unauthenticated(missing=False)
    project_id = request.match_info["project_id"]
    if grant.project_id != project_id:
        return errors.permission_denied(project_id)

    raw = await request.read()
    delay_s = emulator.faults.delay_s()
    if delay_s:
        await asyncio.sleep(delay_s)
    body: Any
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    try:
        emulator.faults.check_quota(project_id, now)
        emulator.faults.check_injected()
        if body is None:
            raise FcmError(
                FcmErrorCode.INVALID_ARGUMENT, "Invalid JSON payload received. Unexpected token."
            )
        sent = parse_send_request(body)
        if sent.target_kind in _DELIVERED_KINDS:
            emulator.targets.check(sent.target_kind, sent.target, project_id, now)
    except FcmError as err:
        _reject(emulator, project_id, now, body, err)
        return err.response()

    if sent.validate_only:
        message_id = DRY_RUN_ID
    else:
        message_id = str(next(emulator.message_ids))
        if sent.target_kind in _DELIVERED_KINDS and emulator.hub.listening(sent.target):
            payload = {
                **sent.payload,
                "from": sender_id(project_id),
                "collapseKey": collapse_key(sent.message),
                "messageId": message_id,
            }
            emulator.hub.publish(sent.target, payload)
    name = f"projects/{project_id}/messages/{message_id}"
    record = ReceivedMessage(
        received_at=now,
        project_id=project_id,
        target_kind=sent.target_kind,
        target=sent.target,
        validate_only=sent.validate_only,
        status=200,
        name=name,
        error_code=None,
        message=sent.message,
    )
    emulator.log.add(record)
    return _accepted(name)


def _accepted(name: str) -> web.Response:
    """What `web.json_response({"name": name})` answers, without encoding a dict per send."""
    return web.Response(text=f'{{"name": {json.dumps(name)}}}', content_type="application/json")


def add_routes(app: web.Application) -> None:
    app.router.add_post(TOKEN_PATH, token)
    app.router.add_post(SEND_PATH, send)
