"""The one middleware every request goes through: trace id, CORS, problem+json for errors, and
the request metrics (count and latency by route, method and status). One layer instead of one
per concern: each layer is a coroutine call and a frame on every request."""

from __future__ import annotations

import time
from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import Counter, Histogram

from herald.tracing import new_trace_id, reset_trace_id, set_trace_id
from herald_token_api.cors import Cors
from herald_token_api.names import TRACE_ID_HEADER
from herald_token_api.problems import problem_response

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
# Label sets whose metric children are kept at hand (a lookup by labels takes a lock and
# builds a tuple); the methods a client may send are not bounded, so neither would this be.
MAX_KEPT_LABELS = 256


class _Metrics:
    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, request: web.Request, status: int, elapsed_s: float) -> None:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        key = (route, request.method, status)
        children = self._children.get(key)
        if children is None:
            labels = (route, request.method, str(status))
            children = (REQUESTS.labels(*labels), LATENCY.labels(*labels))
            if len(self._children) < MAX_KEPT_LABELS:
                self._children[key] = children
        children[0].inc()
        children[1].observe(elapsed_s)


def edge_middleware(cors_origins: Iterable[str]) -> Middleware:
    cors = Cors(cors_origins)
    metrics = _Metrics()

    @web.middleware
    async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        given = request.headers.get(TRACE_ID_HEADER, "")
        trace_id = given if given.isalnum() and len(given) <= MAX_TRACE_ID else new_trace_id()
        token = set_trace_id(trace_id)
        status = 500
        try:
            response = cors.preflight(request)
            if response is None:
                try:
                    response = await handler(request)
                except Exception as exc:
                    response = problem_response(request, exc)
            cors.decorate(request, response)
            status = response.status
            response.headers[TRACE_ID_HEADER] = trace_id
            return response
        finally:
            reset_trace_id(token)
            metrics.observe(request, status, time.perf_counter() - started)

    return edge
