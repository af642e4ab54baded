"""Validation of a reminder's RRULE (RFC 5545) and IANA time zone.

dateutil (like most RRULE engines) searches until year 9999 for a rule that can never match,
such as February 30th, which takes seconds of CPU. The API therefore accepts only the rule parts
reminders need and refuses combinations that can never occur, before anything evaluates them."""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import datetime

from dateutil.rrule import rrulestr  # type: ignore[import-untyped,unused-ignore]

ALLOWED_PARTS = frozenset(
    {
        "FREQ",
        "INTERVAL",
        "COUNT",
        "UNTIL",
        "BYDAY",
        "BYMONTHDAY",
        "BYMONTH",
        "BYHOUR",
        "BYMINUTE",
        "WKST",
    }
)
ALLOWED_FREQUENCIES = frozenset({"HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"})
DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
ORDINAL_DAY = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")


@functools.cache
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone ``name``; ValueError when there is none."""
    if name not in time_zones():
        raise ValueError(f"{name!r} is not an IANA time zone")
    return zoneinfo.ZoneInfo(name)


def _ints(value: str) -> list[int]:
    try:
        return [int(v) for v in value.split(",")]
    except ValueError:
        raise ValueError(f"{value!r} is not a list of integers") from None


def _parts(rule: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for part in rule.split(";"):
        name, sep, value = part.partition("=")
        if not sep or not value:
            raise ValueError(f"{part!r} is not NAME=VALUE")
        if name not in ALLOWED_PARTS:
            raise ValueError(f"{name} is not supported (use {', '.join(sorted(ALLOWED_PARTS))})")
        if name in parts:
            raise ValueError(f"{name} is given twice")
        parts[name] = value
    return parts


def _check_ranges(parts: dict[str, str]) -> None:
    ranges = {"INTERVAL": (1, 1000), "COUNT": (1, 100_000), "BYHOUR": (0, 23), "BYMINUTE": (0, 59)}
    for name, (low, high) in ranges.items():
        if name in parts and any(not low <= v <= high for v in _ints(parts[name])):
            raise ValueError(f"{name} values are {low} to {high}")
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValueError("COUNT and UNTIL must not both be given")


def _check_possible(parts: dict[str, str]) -> None:
    months = _ints(parts["BYMONTH"]) if "BYMONTH" in parts else list(range(1, 13))
    if any(not 1 <= m <= 12 for m in months):
        raise ValueError("BYMONTH values are 1 to 12")
    if "BYMONTHDAY" in parts:
        days = _ints(parts["BYMONTHDAY"])
        if any(d == 0 or abs(d) > 31 for d in days):
            raise ValueError("BYMONTHDAY values are 1 to 31 or -31 to -1")
        if not any(abs(d) <= DAYS_IN_MONTH[m - 1] for m in months for d in days):
            raise ValueError("BYMONTH and BYMONTHDAY never meet: the rule would never fire")
    if "BYDAY" in parts:
        limit = 5 if "BYMONTH" in parts or parts["FREQ"] == "MONTHLY" else 53
        for day in parts["BYDAY"].split(","):
            match = ORDINAL_DAY.fullmatch(day)
            if match is None:
                raise ValueError(f"{day!r} is not a BYDAY value")
            if match[1] is not None and not 1 <= abs(int(match[1])) <= limit:
                raise ValueError(f"{day}: the ordinal must be 1 to {limit} (or negative)")


def check_rrule(rule: str, fire_at: datetime, time_zone: str) -> None:
    """Raise ValueError unless ``rule`` is a supported RRULE that can fire, starting at
    ``fire_at`` in ``time_zone``."""
    parts = _parts(rule)
    if parts.get("FREQ") not in ALLOWED_FREQUENCIES:
        raise ValueError(f"FREQ must be one of {', '.join(sorted(ALLOWED_FREQUENCIES))}")
    _check_ranges(parts)
    _check_possible(parts)
    try:
        rrulestr(rule, dtstart=fire_at.astimezone(zone(time_zone)))
    except (ValueError, TypeError, IndexError, KeyError, OverflowError) as exc:
        raise ValueError(f"not a valid RRULE: {exc}") from None
