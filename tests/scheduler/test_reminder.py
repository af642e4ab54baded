"""Validation of incoming reminders and the arithmetic of their occurrences (no I/O)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from scheduler.conftest import reminder

from herald.codec import InvalidRecord
from herald.v1 import reminders_pb2
from herald_scheduler.reminder import DAY_MS, parse


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


NOW = ms("2026-03-20T12:00:00+00:00")
HORIZON_MS = 30 * DAY_MS


def occurrences(message: reminders_pb2.ReminderScheduled, count: int) -> list[int]:
    fire_at_ms = message.fire_at.ToMilliseconds()
    parsed = parse(message.reminder_id, message, received_ms=fire_at_ms, horizon_ms=HORIZON_MS)
    found = [parsed.arm(now_ms=fire_at_ms, last_ms=None, catchup_ms=0)]
    while len(found) < count and found[-1] is not None:
        found.append(parsed.next_after(found[-1]))
    return [o for o in found if o is not None]


def test_daily_at_nine_in_berlin_keeps_nine_across_the_spring_dst_change() -> None:
    daily = reminder(
        "r", ms("2026-03-28T09:00:00+01:00"), rrule="FREQ=DAILY", time_zone="Europe/Berlin"
    )
    assert occurrences(daily, 3) == [
        ms("2026-03-28T08:00:00+00:00"),
        ms("2026-03-29T07:00:00+00:00"),
        ms("2026-03-30T07:00:00+00:00"),
    ]


def test_autumn_change_and_a_wall_time_inside_the_spring_gap() -> None:
    autumn = reminder(
        "r", ms("2026-10-24T09:00:00+02:00"), rrule="FREQ=DAILY", time_zone="Europe/Berlin"
    )
    assert occurrences(autumn, 2) == [
        ms("2026-10-24T07:00:00+00:00"),
        ms("2026-10-25T08:00:00+00:00"),
    ]
    # 02:30 does not exist on 29 March in Berlin: RFC 5545 takes the offset before the gap.
    gap = reminder(
        "r", ms("2026-03-28T02:30:00+01:00"), rrule="FREQ=DAILY;COUNT=3", time_zone="Europe/Berlin"
    )
    assert occurrences(gap, 5) == [
        ms("2026-03-28T02:30:00+01:00"),
        ms("2026-03-29T02:30:00+01:00"),
        ms("2026-03-30T02:30:00+02:00"),
    ]


def test_expires_at_and_until_end_a_recurrence() -> None:
    weekly = reminder(
        "r",
        ms("2026-03-23T18:00:00-04:00"),
        rrule="FREQ=WEEKLY;UNTIL=20260414T000000Z",
        time_zone="America/New_York",
    )
    assert occurrences(weekly, 10) == [
        ms("2026-03-23T18:00:00-04:00"),
        ms("2026-03-30T18:00:00-04:00"),
        ms("2026-04-06T18:00:00-04:00"),
        ms("2026-04-13T18:00:00-04:00"),
    ]
    weekly.expires_at.FromMilliseconds(ms("2026-03-30T22:00:00+00:00"))
    assert occurrences(weekly, 10) == [ms("2026-03-23T18:00:00-04:00")]


def test_a_recurring_reminder_resumes_after_its_last_released_occurrence() -> None:
    daily = reminder("r", ms("2026-03-10T08:00:00+00:00"), rrule="FREQ=DAILY", time_zone="UTC")
    parsed = parse("r", daily, received_ms=NOW, horizon_ms=HORIZON_MS)
    # Without progress, occurrences older than the catch-up window are skipped.
    assert parsed.arm(now_ms=NOW, last_ms=None, catchup_ms=DAY_MS) == ms(
        "2026-03-20T08:00:00+00:00"
    )
    assert parsed.arm(now_ms=NOW, last_ms=ms("2026-03-20T08:00:00+00:00"), catchup_ms=DAY_MS) == ms(
        "2026-03-21T08:00:00+00:00"
    )
    daily.occurrence_ttl_s = 3600
    parsed = parse("r", daily, received_ms=NOW, horizon_ms=HORIZON_MS)
    assert parsed.arm(now_ms=NOW, last_ms=None, catchup_ms=DAY_MS) == ms(
        "2026-03-21T08:00:00+00:00"
    )
    assert parsed.occurrence_expires_ms(ms("2026-03-21T08:00:00+00:00")) == ms(
        "2026-03-21T09:00:00+00:00"
    )


@pytest.mark.parametrize(
    ("key", "fields", "reason"),
    [
        ("r", {"time_zone": "Mars/Olympus_Mons"}, "unknown-time-zone"),
        ("r", {"rrule": "FREQ=FORTNIGHTLY", "time_zone": "UTC"}, "bad-rrule"),
        ("r", {"rrule": "FREQ=DAILY\nDTSTART:20260101T000000Z"}, "bad-rrule"),
        ("r", {"rrule": "FREQ=DAILY;UNTIL=20260401T000000", "time_zone": "UTC"}, "bad-rrule"),
        ("r", {"rrule": "FREQ=DAILY;UNTIL=20200101T000000Z"}, "no-occurrence"),
        ("r", {"fire_in_days": 31}, "beyond-horizon"),
        ("r", {"user_id": ""}, "missing-user"),
        ("other", {}, "key-mismatch"),
        ("", {}, "missing-key"),
        ("r", {"retry": reminders_pb2.DeliveryRetry()}, "bad-retry"),
    ],
)
def test_invalid_reminders_are_refused_with_their_reason(
    key: str, fields: dict[str, Any], reason: str
) -> None:
    fire_at = NOW + DAY_MS * int(str(fields.pop("fire_in_days", 1)))
    message = reminder("r", fire_at, **fields)
    with pytest.raises(InvalidRecord) as refused:
        parse(key, message, received_ms=NOW, horizon_ms=HORIZON_MS)
    assert refused.value.reason == reason


def test_a_missing_fire_time_is_refused() -> None:
    message = reminders_pb2.ReminderScheduled(reminder_id="r", user_id="u")
    with pytest.raises(InvalidRecord) as refused:
        parse("r", message, received_ms=NOW, horizon_ms=HORIZON_MS)
    assert refused.value.reason == "missing-fire-time"
