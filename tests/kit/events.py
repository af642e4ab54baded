"""Sample events with every field set, for round-trip tests."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from herald.v1 import common_pb2, deliveries_pb2, notifications_pb2, reminders_pb2, tokens_pb2


def ts(iso: str) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.fromisoformat(iso).astimezone(UTC))
    return stamp


TARGET = common_pb2.Target(
    kind=common_pb2.TARGET_KIND_FID, value="fid-c2a9d1e0b7", project_id="herald-dev"
)
CONTENT = common_pb2.NotificationContent(
    title="Stand-up",
    body="Daily stand-up starts in 5 minutes",
    icon="https://app.example/icon.png",
    click_link="https://app.example/meetings/42",
    data={"meeting": "42", "kind": "calendar"},
    image="https://app.example/banner.png",
)


def samples() -> list[Message]:
    return [
        reminders_pb2.ReminderScheduled(
            event_id="ev-1",
            occurred_at=ts("2026-03-28T10:00:00+00:00"),
            reminder_id="rem-1",
            user_id="user-1",
            content=CONTENT,
            fire_at=ts("2026-03-30T09:00:00+02:00"),
            time_zone="Europe/Berlin",
            rrule="FREQ=DAILY;COUNT=3",
            expires_at=ts("2026-04-30T00:00:00+00:00"),
            occurrence_ttl_s=3600,
            collapse_key="standup",
            urgency=common_pb2.URGENCY_HIGH,
            retry=reminders_pb2.DeliveryRetry(
                notification_id="rem-1@1774854000000",
                occurrence_at=ts("2026-03-30T09:00:00+02:00"),
                attempts=2,
                targets=[TARGET],
            ),
        ),
        notifications_pb2.NotificationDue(
            event_id="ev-2",
            occurred_at=ts("2026-03-30T07:00:00+00:00"),
            notification_id="rem-1@1774854000000",
            reminder_id="rem-1",
            occurrence_at=ts("2026-03-30T07:00:00+00:00"),
            user_id="user-1",
            content=CONTENT,
            expires_at=ts("2026-03-30T08:00:00+00:00"),
            collapse_key="standup",
            urgency=common_pb2.URGENCY_NORMAL,
            attempts=1,
            targets=[TARGET],
        ),
        tokens_pb2.TokenSet(
            event_id="ev-3",
            occurred_at=ts("2026-03-30T07:00:00+00:00"),
            user_id="user-1",
            tokens=[
                tokens_pb2.TokenEntry(
                    target=TARGET,
                    platform=common_pb2.PLATFORM_WEB,
                    device_label="Firefox on Linux",
                    created_at=ts("2026-01-01T00:00:00+00:00"),
                    last_seen_at=ts("2026-03-29T00:00:00+00:00"),
                )
            ],
            version=7,
        ),
        tokens_pb2.TokenInvalidated(
            event_id="ev-4",
            occurred_at=ts("2026-03-30T07:00:01+00:00"),
            user_id="user-1",
            target=TARGET,
            reason=tokens_pb2.INVALIDATION_REASON_UNREGISTERED,
            observed_at=ts("2026-03-30T07:00:00+00:00"),
            detail="Requested entity was not found.",
        ),
        deliveries_pb2.DeliveryReport(
            event_id="ev-5",
            occurred_at=ts("2026-03-30T07:00:01+00:00"),
            notification_id="rem-1@1774854000000",
            occurrence_at=ts("2026-03-30T07:00:00+00:00"),
            user_id="user-1",
            target=TARGET,
            status=deliveries_pb2.DELIVERY_STATUS_SENT,
            fcm_message_name="projects/herald-dev/messages/0:1774854000000",
            error_code=deliveries_pb2.FCM_ERROR_CODE_UNSPECIFIED,
            error_message="",
            attempts=1,
            latency_ms=42,
        ),
    ]
