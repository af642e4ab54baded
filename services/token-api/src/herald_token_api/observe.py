"""Per-request metrics (count and latency by route, method and status) and the trace id."""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import Counter, Histogram

from herald.tracing import new_trace_id, reset_trace_id, set_trace_id
from herald_token_api.names import TRACE_ID_HEADER

REQUESTS = Counter(
    "herald_token_api_requests_total",
    "HTTP requests by route, method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "herald_token_api_request_duration_seconds",
    "HTTP request latency by route, method and status.",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
MAX_TRACE_ID = 64


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def observe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost middleware: sees the final status, problems included."""
    started = time.perf_counter()
    given = request.headers.get(TRACE_ID_HEADER, "")
    trace_id = given if given.isalnum() and len(given) <= MAX_TRACE_ID else new_trace_id()
    token = set_trace_id(trace_id)
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers[TRACE_ID_HEADER] = trace_id
        return response
    finally:
        reset_trace_id(token)
        labels = (_route(request), request.method, str(status))
        REQUESTS.labels(*labels).inc()
        LATENCY.labels(*labels).observe(time.perf_counter() - started)
