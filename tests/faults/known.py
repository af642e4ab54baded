"""Herald bugs this suite found and reported, each with the signature that identifies it in a
scenario's counts. A scenario whose only must-be-0 failures match these is xfailed naming them;
anything else still fails. Remove an entry once its bug is fixed. Line numbers: commit f903a8c."""

from __future__ import annotations

from faults.ledger import Tally

IN_DOUBT_SEND = (
    "dispatcher deliverer.py:215-223: after kill -9 between the delivery key's claim "
    "and the request reaching FCM, the redelivered record finds the lapsed lease and reports "
    "SENT 'unconfirmed' without sending: the device never gets it"
)
SEND_NOW_RETRY = (
    "token-api events.py:94: send-now stamps occurrence_at = now, so a product service "
    "retrying POST /v1/notifications with the same notification_id (e.g. while Kafka is down) "
    "creates new occurrences, which the dispatcher's delivery key does not dedupe"
)
EXPIRY_CHECKED_EARLY = (
    "dispatcher deliverer.py:74: expires_at is checked before waiting for the rate "
    "limiter, an in-flight slot and the claim (line 92); in a backlog after a fault the send "
    "then leaves after the expiry"
)
TOKEN_SET_UNCHECKED = (
    "dispatcher projection.py:184: a TokenSet whose user_id differs from its key, or "
    "with a target without a value, is applied to the projection instead of dead-lettered"
)


def explained(tally: Tally, injected_at: float) -> tuple[dict[str, int], list[str]]:
    """(must-be-0 counts no known bug explains, the known bugs that explain the rest)."""
    left = {
        "lost": tally.lost,
        "delivered twice": tally.duplicates,
        "early": tally.early,
        "after expiry": tally.after_expiry,
        "unrequested": tally.unrequested,
    }
    bugs = []
    if tally.lost and tally.lost == tally.lost_unconfirmed:
        left["lost"] = 0
        bugs.append(IN_DOUBT_SEND)
    if tally.duplicates and tally.duplicates == tally.send_now_duplicates:
        left["delivered twice"] = 0
        bugs.append(SEND_NOW_RETRY)
    if tally.after_expiry and tally.first_after_expiry_at >= injected_at:
        left["after expiry"] = 0
        bugs.append(EXPIRY_CHECKED_EARLY)
    return {what: count for what, count in left.items() if count}, bugs
