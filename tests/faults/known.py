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


def explained(tally: Tally) -> tuple[dict[str, int], list[str]]:
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
    return {what: count for what, count in left.items() if count}, bugs
