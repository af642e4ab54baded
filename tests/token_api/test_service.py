"""The service endpoints validate, publish one event, and answer 202 with the id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from token_api.support import AS_SERVICE, Client, make_settings, read_all, running

from herald import topics
from herald.v1 import common_pb2, notifications_pb2, reminders_pb2
from herald_token_api.db import Pool

IN_AN_HOUR = datetime.now(UTC) + timedelta(hours=1)
CONTENT = {
    "title": "Stand-up",
    "body": "Daily stand-up starts in 5 minutes",
    "click_link": "https://app.example/meetings/42",
    "data": {"meeting": "42"},
}
REMINDER: dict[str, Any] = {
    "user_id": "alice",
    "content": CONTENT,
    "fire_at": IN_AN_HOUR.isoformat(),
    "expires_at": (IN_AN_HOUR + timedelta(days=30)).isoformat(),
}


async def test_a_recurring_reminder_is_published_keyed_by_its_id(
    api: Client, bootstrap: str, namespace: str
) -> None:
    body = {
        **REMINDER,
        "reminder_id": "standup-42",
        "rrule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        "time_zone": "Europe/Berlin",
        "urgency": "high",
        "collapse_key": "standup",
        "occurrence_ttl_s": 600,
    }
    response = await api.post("/v1/reminders", json=body, headers=AS_SERVICE)
    assert response.status == 202
    assert await response.json() == {"reminder_id": "standup-42"}

    (record,) = await read_all(bootstrap, namespace, topics.REMINDERS)
    assert record.key == b"standup-42"
    event = reminders_pb2.ReminderScheduled.FromString(record.value)
    assert (event.user_id, event.rrule, event.time_zone) == (
        "alice",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        "Europe/Berlin",
    )
    assert event.fire_at.ToDatetime(tzinfo=UTC) == IN_AN_HOUR
    assert event.content.click_link == CONTENT["click_link"]
    assert dict(event.content.data) == {"meeting": "42"}
    assert (event.urgency, event.occurrence_ttl_s) == (common_pb2.URGENCY_HIGH, 600)
    assert event.event_id
    assert event.occurred_at.seconds > 0


async def test_a_one_shot_reminder_gets_an_id_and_a_cancel_is_a_tombstone(
    api: Client, bootstrap: str, namespace: str
) -> None:
    response = await api.post("/v1/reminders", json=REMINDER, headers=AS_SERVICE)
    reminder_id = (await response.json())["reminder_id"]
    response = await api.delete(f"/v1/reminders/{reminder_id}", headers=AS_SERVICE)
    assert response.status == 202

    scheduled, cancelled = sorted(
        await read_all(bootstrap, namespace, topics.REMINDERS), key=lambda r: r.offset
    )
    assert scheduled.key == cancelled.key == reminder_id.encode()
    assert reminders_pb2.ReminderScheduled.FromString(scheduled.value).rrule == ""
    assert cancelled.value is None


async def test_send_now_publishes_a_due_notification_for_the_user(
    api: Client, bootstrap: str, namespace: str
) -> None:
    body = {"user_id": "alice", "content": CONTENT, "ttl_s": 120}
    response = await api.post("/v1/notifications", json=body, headers=AS_SERVICE)
    assert response.status == 202
    notification_id = (await response.json())["notification_id"]

    (record,) = await read_all(bootstrap, namespace, topics.NOTIFICATIONS_DUE)
    assert record.key == b"alice"
    event = notifications_pb2.NotificationDue.FromString(record.value)
    assert event.notification_id == notification_id
    assert event.content.title == "Stand-up"
    assert event.expires_at.seconds - event.occurrence_at.seconds == 120
    assert event.urgency == common_pb2.URGENCY_HIGH


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"rrule": "FREQ=MINUTELY"}, "rrule"),
        ({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "rrule"),
        ({"rrule": "FREQ=DAILY;UNTIL=20300101T000000"}, "rrule"),
        ({"rrule": "FREQ=DAILY;COUNT=2;UNTIL=20300101T000000Z"}, "rrule"),
        ({"rrule": "FREQ=DAILY;BYHOUR=25"}, "rrule"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"fire_at": (IN_AN_HOUR + timedelta(days=31)).isoformat()}, "fire_at"),
        ({"content": {"title": "x", "data": {k: "v" * 1000 for k in "abcd"}}}, "content"),
        ({"content": {"title": "x", "data": {"google.c.a": "1"}}}, "content.data"),
    ],
)
async def test_invalid_reminders_are_422_naming_the_field(
    offline_api: Client, change: dict[str, Any], field: str
) -> None:
    response = await offline_api.post(
        "/v1/reminders", json={**REMINDER, **change}, headers=AS_SERVICE
    )
    assert response.status == 422
    problem = await response.json()
    assert problem["reason"] == "invalid-body"
    assert [e["loc"] for e in problem["errors"]] == [field]


async def test_kafka_down_is_a_503_with_retry_after(database_url: str, pool: Pool) -> None:
    async with running(make_settings(database_url, publish_timeout_s=0.3)) as client:
        response = await client.post("/v1/reminders", json=REMINDER, headers=AS_SERVICE)
        assert response.status == 503
        assert response.headers["Retry-After"] == "2"
        assert (await response.json())["reason"] == "kafka-unavailable"
