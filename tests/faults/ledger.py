"""What was asked for against what the FCM emulator received, per (notification, target).

Every notification the load asks for carries its id in ``data["nid"]``, so a send the emulator
recorded names the request it serves: the emulator's record is the device's view (it is what
FCM would have accepted for delivery), and the load's requests are the product's view.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from fcm_emulator.records import ReceivedMessage

NID_KEY = "nid"
# A delivery later than this behind its fire time counts as disturbed by the fault.
DISTURBED_LATENESS_MS = 1000
# Clock resolution: fire times are whole milliseconds, the emulator's clock is a float.
CLOCK_RESOLUTION_MS = 1


@dataclass(frozen=True)
class Request:
    """One notification asked for: a reminder (``fire_at_ms`` = its fire time) or a send-now
    (``fire_at_ms`` = when the product service first asked). ``accepted`` is False for a
    send-now the token-api never acknowledged within the load's retry budget."""

    nid: str
    kind: str
    user_id: str
    fire_at_ms: int
    expires_at_ms: int
    targets: frozenset[str]
    accepted: bool = True


def nid_of(message: ReceivedMessage) -> str | None:
    body = message.message
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    if not isinstance(data, dict):
        return None
    nid = data.get(NID_KEY)
    return nid if isinstance(nid, str) else None


def replace_tag(message: ReceivedMessage) -> str | None:
    """What the device replaces this notification by (a second one with the same tag takes
    the first one's place instead of showing beside it): web push ``Topic``, Android
    notification ``tag``, ``apns-collapse-id``."""
    body = message.message if isinstance(message.message, dict) else {}
    webpush = body.get("webpush") or {}
    android = (body.get("android") or {}).get("notification") or {}
    apns = body.get("apns") or {}
    for tag in (
        (webpush.get("headers") or {}).get("Topic"),
        android.get("tag"),
        (apns.get("headers") or {}).get("apns-collapse-id"),
    ):
        if isinstance(tag, str) and tag:
            return tag
    return None


def percentile(values: list[int], share: float) -> int:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class Reported:
    """(nid, target) pairs — target "" for a whole notification — by what Herald's delivery
    reports say of them."""

    expired: set[tuple[str, str]] = field(default_factory=set)
    # Reported SENT after sending again: an earlier attempt was interrupted (a crash) mid-send.
    resent: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class Tally:
    requested: int = 0
    delivered: int = 0
    lost: int = 0
    duplicates: int = 0
    # Second copies of a resent delivery with the first copy's replace tag: the device shows
    # one notification (the second replaces the first), so they are not duplicates.
    replaced: int = 0
    early: int = 0
    after_expiry: int = 0
    expired: int = 0
    unrequested: int = 0
    refused: int = 0
    lateness_ms: list[int] = field(default_factory=list)
    # Unix seconds of the last delivery more than DISTURBED_LATENESS_MS late (0.0 when none).
    last_disturbed_at: float = 0.0
    lost_examples: list[str] = field(default_factory=list)
    # How far past its expiry the latest of the sends received after expiry came.
    after_expiry_max_ms: int = 0

    @property
    def p50_ms(self) -> int:
        return percentile(self.lateness_ms, 0.50)

    @property
    def p99_ms(self) -> int:
        return percentile(self.lateness_ms, 0.99)

    @property
    def max_ms(self) -> int:
        return max(self.lateness_ms, default=0)


def pending(requests: list[Request], messages: list[ReceivedMessage], now_ms: int) -> int:
    """Pairs still to come: not received yet and not expired yet (what a wait waits for)."""
    received = {(nid_of(m), m.target) for m in messages if m.status == 200}
    return sum(
        1
        for r in requests
        if r.accepted and r.expires_at_ms > now_ms
        for t in r.targets
        if (r.nid, t) not in received
    )


def tally(
    requests: list[Request],
    messages: list[ReceivedMessage],
    reported: Reported,
    run: str,
) -> Tally:
    """Count per (notification, target). An undelivered pair Herald reported EXPIRED is
    excused, any other undelivered pair is lost. ``run`` prefixes every nid of this scenario,
    so sends of it nobody asked for are found."""
    result = Tally()
    by_nid = {r.nid: r for r in requests}
    received: dict[tuple[str, str], list[ReceivedMessage]] = defaultdict(list)
    for message in messages:
        nid = nid_of(message)
        if message.status != 200 or message.validate_only or nid is None:
            continue
        if not nid.startswith(run) or message.target is None:
            continue
        request = by_nid.get(nid)
        if request is None or message.target not in request.targets:
            result.unrequested += 1
            continue
        received[(nid, message.target)].append(message)
        past_ms = round(message.received_at * 1000) - request.expires_at_ms
        if past_ms > 0:
            result.after_expiry += 1
            result.after_expiry_max_ms = max(result.after_expiry_max_ms, past_ms)

    for request in requests:
        if not request.accepted:
            # Never acknowledged: neither owed nor, when it arrives anyway, unrequested.
            result.refused += 1
            continue
        for target in sorted(request.targets):
            result.requested += 1
            copies = received.get((request.nid, target))
            if not copies:
                pairs = {(request.nid, target), (request.nid, "")}
                if pairs & reported.expired:
                    result.expired += 1
                    continue
                result.lost += 1
                if len(result.lost_examples) < 3:
                    result.lost_examples.append(f"{request.nid}→…{target[-8:]}")
                continue
            result.delivered += 1
            times = [copy.received_at for copy in copies]
            if _replaced(copies, (request.nid, target) in reported.resent):
                result.replaced += 1
            else:
                result.duplicates += len(copies) - 1
            first_ms = min(times) * 1000
            if first_ms < request.fire_at_ms - CLOCK_RESOLUTION_MS:
                result.early += 1
            lateness = max(0, round(first_ms - request.fire_at_ms))
            result.lateness_ms.append(lateness)
            if lateness > DISTURBED_LATENESS_MS:
                result.last_disturbed_at = max(result.last_disturbed_at, min(times))
    return result


def _replaced(copies: list[ReceivedMessage], resent: bool) -> bool:
    """Two copies of a delivery Herald reported resending, under one replace tag."""
    tags = {replace_tag(copy) for copy in copies}
    return resent and len(copies) == 2 and len(tags) == 1 and None not in tags
