"""RFC 5545 recurrence rules evaluated in an IANA time zone.

Occurrences are generated as wall-clock times in the zone (09:00 stays 09:00 across a DST
change) and turned into instants with zoneinfo: a wall time that does not exist (spring gap)
takes the offset before the gap and an ambiguous one (autumn overlap) its first instant, as
RFC 5545 section 3.3.5 asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr  # type: ignore[import-untyped]

# A wall time and its instant never differ by more than this (largest UTC offset change).
_MAX_SHIFT = timedelta(hours=3)


class UnknownZone(ValueError):
    pass


class BadRule(ValueError):
    pass


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` ("" is UTC); raises UnknownZone."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownZone(f"unknown time zone {name!r}") from exc


@dataclass(frozen=True)
class Recurrence:
    rule: rrule
    zone: ZoneInfo

    def first_at_or_after(self, instant_ms: int) -> int | None:
        """The first occurrence at or after ``instant_ms``; None when the rule is exhausted."""
        wall = datetime.fromtimestamp(instant_ms / 1000, self.zone).replace(tzinfo=None)
        start = (wall - _MAX_SHIFT).replace(tzinfo=self.zone)
        occurrence: datetime
        for occurrence in self.rule.xafter(start, inc=True):
            occurrence_ms = round(occurrence.timestamp()) * 1000
            if occurrence_ms >= instant_ms:
                return occurrence_ms
        return None

    def first_after(self, instant_ms: int) -> int | None:
        return self.first_at_or_after(instant_ms + 1)


@lru_cache(maxsize=4096)
def recurrence(text: str, zone_name: str, start_s: int) -> Recurrence:
    """Parse an RRULE (with or without its "RRULE:" prefix) starting at ``start_s`` (epoch s).

    Raises UnknownZone or BadRule.
    """
    tz = zone(zone_name)
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[len("RRULE:") :]
    if not body or any(c in body for c in ":\r\n"):
        raise BadRule(f"not a single RRULE value: {text!r}")
    start = datetime.fromtimestamp(start_s, tz)
    try:
        rule = rrulestr(body, dtstart=start)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise BadRule(f"{text!r}: {exc}") from exc
    if not isinstance(rule, rrule):
        raise BadRule(f"not a single RRULE: {text!r}")
    return Recurrence(rule, tz)
