"""The scheduler's Prometheus metrics (served on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PENDING = Gauge(
    "herald_scheduler_pending",
    "Reminders waiting in a shard (due or leased), as of the shard's last step.",
    ["shard"],
)
OWNED_SHARDS = Gauge("herald_scheduler_owned_shards", "Shards this instance releases.")
RELEASED = Counter(
    "herald_scheduler_released_total",
    "Occurrences published as NotificationDue (rate() gives released/s).",
)
LATENESS = Histogram(
    "herald_scheduler_lateness_seconds",
    "Time from an occurrence's fire time to Kafka's ack of its NotificationDue.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
EXPIRED = Counter(
    "herald_scheduler_expired_total",
    "Occurrences not released because they expired first (reported as EXPIRED).",
)
LEASES_EXPIRED = Counter(
    "herald_scheduler_leases_expired_total",
    "Taken reminders whose lease lapsed before their release finished; they went back to due.",
)
REBUILDS = Counter(
    "herald_scheduler_rebuilds_total", "Shard indexes rebuilt from the reminders topic."
)
REBUILT_REMINDERS = Counter(
    "herald_scheduler_rebuilt_reminders_total", "Reminders loaded into Redis by rebuilds."
)
INTAKE = Counter(
    "herald_scheduler_intake_total",
    "Records of the reminders topic handled, by outcome: applied (stored or changed), same "
    "(already stored), seen (applied before), cancelled, done (this instance's own tombstone), "
    "republished (a newer record written again after a stale tombstone).",
    ["outcome"],
)
INTAKE_OUTCOMES = {
    outcome: INTAKE.labels(outcome)
    for outcome in ("applied", "same", "seen", "cancelled", "done", "republished")
}
FENCED = Counter(
    "herald_scheduler_fenced_total",
    "Times this instance found a shard claimed by a later epoch and stopped releasing it.",
)
RELEASE_FAILURES = Counter(
    "herald_scheduler_release_failures_total",
    "Release batches that failed (their leases lapse and they are released again).",
)
