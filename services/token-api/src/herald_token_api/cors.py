"""CORS for the configured browser origins only; other origins get no CORS headers."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from herald_token_api.names import TRACE_ID_HEADER
from herald_token_api.problems import Problem

ALLOWED_METHODS = "GET, POST, PUT, DELETE"
ALLOWED_HEADERS = f"Authorization, Content-Type, {TRACE_ID_HEADER}"
EXPOSED_HEADERS = f"Retry-After, {TRACE_ID_HEADER}"
PREFLIGHT_MAX_AGE_S = 600


class Cors:
    def __init__(self, origins: Iterable[str]) -> None:
        self._allowed = frozenset(origins)

    def preflight(self, request: web.Request) -> web.StreamResponse | None:
        """The answer to a CORS preflight request; None for any other request."""
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        if request.headers.get("Origin") not in self._allowed:
            return Problem(403, "forbidden", "this origin may not call the API").response()
        response = web.Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_S)
        return response

    def decorate(self, request: web.Request, response: web.StreamResponse) -> None:
        """Let an allowed origin read ``response``; tell caches it depends on the origin."""
        origin = request.headers.get("Origin")
        if origin is not None and origin in self._allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        response.headers.add("Vary", "Origin")
