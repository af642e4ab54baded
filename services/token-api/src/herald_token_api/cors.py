"""CORS for the configured browser origins only; other origins get no CORS headers."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from herald_token_api.names import TRACE_ID_HEADER
from herald_token_api.problems import Problem

ALLOWED_METHODS = "GET, POST, PUT, DELETE"
ALLOWED_HEADERS = f"Authorization, Content-Type, {TRACE_ID_HEADER}"
PREFLIGHT_MAX_AGE_S = 600


def cors_middleware(origins: Iterable[str]) -> Middleware:
    allowed = frozenset(origins)

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        preflight = (
            request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
        )
        if preflight:
            if origin not in allowed:
                return Problem(403, "forbidden", "this origin may not call the API").response()
            response: web.StreamResponse = web.Response(status=204)
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_S)
        else:
            response = await handler(request)
        if origin is not None and origin in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = f"Retry-After, {TRACE_ID_HEADER}"
        response.headers.add("Vary", "Origin")
        return response

    return cors
