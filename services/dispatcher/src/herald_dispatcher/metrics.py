"""The dispatcher's Prometheus metrics, served on /metrics."""

from __future__ import annotations

from functools import cache

from prometheus_client import Counter, Gauge, Histogram

from herald.v1 import deliveries_pb2

SENDS = Counter(
    "herald_dispatcher_deliveries_total",
    "Final outcome per (notification, target): sent, invalid_target, expired, retry_scheduled, "
    "dead_lettered, no_targets, auth_error.",
    ["outcome"],
)
FCM_REQUESTS = Counter(
    "herald_dispatcher_fcm_requests_total",
    "Requests to FCM by project and answer (OK, an FCM error code, or TRANSPORT).",
    ["project", "result"],
)
FCM_LATENCY = Histogram(
    "herald_dispatcher_fcm_latency_seconds",
    "Time from sending a request to FCM to its answer.",
    ["project"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
IN_FLIGHT = Gauge("herald_dispatcher_in_flight", "Requests to FCM waiting for an answer.")
RETRIES = Counter(
    "herald_dispatcher_retries_total",
    "Retries: in_process (waited for here) or scheduled (handed to the scheduler).",
    ["kind"],
)
INVALIDATIONS = Counter(
    "herald_dispatcher_invalidations_total",
    "Targets FCM rejected for good, by reason; each emits a TokenInvalidated.",
    ["reason"],
)
AUTH_ERRORS = Counter(
    "herald_dispatcher_fcm_auth_errors_total",
    "FCM refused Herald's credentials (401, 403 without an FCM error, THIRD_PARTY_AUTH_ERROR): "
    "a configuration problem to alert on.",
    ["project", "kind"],
)
LIMITER_WAITS = Counter(
    "herald_dispatcher_limiter_waits_total",
    "Times a send waited for the shared rate limiter.",
    ["project"],
)
LIMITER_WAIT_SECONDS = Counter(
    "herald_dispatcher_limiter_wait_seconds_total",
    "Time spent waiting for the shared rate limiter.",
    ["project"],
)
DUPLICATES = Counter(
    "herald_dispatcher_duplicates_suppressed_total",
    "Deliveries not sent again because their key showed an earlier attempt.",
)
RESENDS = Counter(
    "herald_dispatcher_resends_total",
    "Deliveries sent again after an attempt interrupted mid-send (same replace tag).",
)
CONSUMER_LAG = Gauge(
    "herald_dispatcher_consumer_lag_records",
    "Records of herald.notifications.due.v1 behind the partition's end, after the last batch.",
    ["partition"],
)
PROJECTION_REBUILDS = Counter(
    "herald_dispatcher_projection_rebuilds_total",
    "Partitions of herald.tokens.v1 replayed from the start because Redis lost their state.",
)


@cache
def deliveries(status: deliveries_pb2.DeliveryStatus) -> Counter:
    name = deliveries_pb2.DeliveryStatus.Name(status).removeprefix("DELIVERY_STATUS_").lower()
    return SENDS.labels(name)


@cache
def fcm_requests(project: str, result: str) -> Counter:
    return FCM_REQUESTS.labels(project, result)


@cache
def fcm_latency(project: str) -> Histogram:
    return FCM_LATENCY.labels(project)
