"""Every Kafka topic and header name Herald uses, declared once."""

from __future__ import annotations

from dataclasses import dataclass, field

from google.protobuf.message import Message

from herald.v1 import deliveries_pb2, notifications_pb2, reminders_pb2, tokens_pb2

WEEK_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    # Message types a producer may write to this topic (the header names the one used).
    message_types: tuple[type[Message], ...] = ()
    compacted: bool = False
    retention_ms: int = WEEK_MS
    extra_config: dict[str, str] = field(default_factory=dict)

    def config(self) -> dict[str, str]:
        if self.compacted:
            # Tombstones stay a day so every consumer sees them before compaction drops them.
            cfg = {"cleanup.policy": "compact", "delete.retention.ms": str(24 * 3600 * 1000)}
        else:
            cfg = {"cleanup.policy": "delete", "retention.ms": str(self.retention_ms)}
        cfg.update(self.extra_config)
        return cfg


REMINDERS = Topic("herald.reminders.v1", 12, (reminders_pb2.ReminderScheduled,), compacted=True)
NOTIFICATIONS_DUE = Topic(
    "herald.notifications.due.v1", 12, (notifications_pb2.NotificationDue,), retention_ms=WEEK_MS
)
TOKENS = Topic("herald.tokens.v1", 12, (tokens_pb2.TokenSet,), compacted=True)
TOKENS_INVALIDATED = Topic(
    "herald.tokens.invalidated.v1", 6, (tokens_pb2.TokenInvalidated,), retention_ms=WEEK_MS
)
DELIVERIES = Topic(
    "herald.deliveries.v1", 6, (deliveries_pb2.DeliveryReport,), retention_ms=WEEK_MS
)
# Holds the original bytes of records no consumer could process, with reason headers.
DLQ = Topic("herald.notifications.dlq.v1", 3, retention_ms=4 * WEEK_MS)

ALL_TOPICS: tuple[Topic, ...] = (
    REMINDERS,
    NOTIFICATIONS_DUE,
    TOKENS,
    TOKENS_INVALIDATED,
    DELIVERIES,
    DLQ,
)

# Record headers.
HEADER_TYPE = "herald-type"
HEADER_TRACE_ID = "herald-trace-id"
HEADER_DLQ_REASON = "herald-dlq-reason"
HEADER_DLQ_DETAIL = "herald-dlq-detail"
HEADER_DLQ_TOPIC = "herald-dlq-source-topic"
HEADER_DLQ_PARTITION = "herald-dlq-source-partition"
HEADER_DLQ_OFFSET = "herald-dlq-source-offset"
HEADER_DLQ_GROUP = "herald-dlq-consumer-group"
