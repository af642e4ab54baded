"""The suite's counting rules, on hand-made records: a second copy counts as replaced only when
Herald reported resending that delivery and both copies carry one replace tag; any other second
copy is a duplicate."""

from __future__ import annotations

from faults.ledger import Reported, Request, tally

from fcm_emulator.records import ReceivedMessage

RUN = "run1"
FIRE_MS = 1_000_000


def request(nid: str, *targets: str) -> Request:
    return Request(nid, "reminder", "ada", FIRE_MS, FIRE_MS + 60_000, frozenset(targets))


def received(nid: str, target: str, at_ms: int, topic: str | None) -> ReceivedMessage:
    webpush = {"headers": {"Topic": topic}} if topic else {}
    return ReceivedMessage(
        received_at=at_ms / 1000,
        project_id="p",
        target_kind="token",
        target=target,
        validate_only=False,
        status=200,
        name="projects/p/messages/1",
        error_code=None,
        message={"token": target, "data": {"nid": nid}, "webpush": webpush},
    )


def test_a_resent_copy_under_the_same_tag_is_replaced_not_a_duplicate() -> None:
    requests = [request(f"{RUN}-a", "t1", "t2")]
    messages = [
        received(f"{RUN}-a", "t1", FIRE_MS + 5, "tag-a"),
        received(f"{RUN}-a", "t1", FIRE_MS + 9000, "tag-a"),
        received(f"{RUN}-a", "t2", FIRE_MS + 7, "tag-a"),
    ]
    counted = tally(requests, messages, Reported(resent={(f"{RUN}-a", "t1")}), RUN)

    assert (counted.delivered, counted.replaced, counted.duplicates, counted.lost) == (2, 1, 0, 0)
    # Lateness is the first copy's: the device showed the notification then.
    assert counted.max_ms == 7


def test_a_second_copy_herald_did_not_report_resending_is_a_duplicate() -> None:
    requests = [request(f"{RUN}-a", "t1")]
    messages = [
        received(f"{RUN}-a", "t1", FIRE_MS + 5, "tag-a"),
        received(f"{RUN}-a", "t1", FIRE_MS + 50, "tag-a"),
    ]
    counted = tally(requests, messages, Reported(), RUN)

    assert (counted.replaced, counted.duplicates) == (0, 1)


def test_resent_copies_without_one_shared_tag_or_more_than_two_are_duplicates() -> None:
    requests = [request(f"{RUN}-a", "t1"), request(f"{RUN}-b", "t1"), request(f"{RUN}-c", "t1")]
    messages = [
        received(f"{RUN}-a", "t1", FIRE_MS, "tag-a"),
        received(f"{RUN}-a", "t1", FIRE_MS, "other"),
        received(f"{RUN}-b", "t1", FIRE_MS, None),
        received(f"{RUN}-b", "t1", FIRE_MS, None),
        *(received(f"{RUN}-c", "t1", FIRE_MS, "tag-c") for _ in range(3)),
    ]
    resent = {(f"{RUN}-a", "t1"), (f"{RUN}-b", "t1"), (f"{RUN}-c", "t1")}
    counted = tally(requests, messages, Reported(resent=resent), RUN)

    assert (counted.replaced, counted.duplicates) == (0, 1 + 1 + 2)
