"""A notification is encoded once per platform and kind of target, and each target's request
body is that encoding with the target put in: it must be byte for byte what firebase-admin's
encoder makes of the message built for that target."""

from __future__ import annotations

import gc
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from herald.consumer import Record
from herald.v1 import common_pb2, notifications_pb2
from herald_dispatcher import message
from herald_dispatcher.notification import Notification, parse

NOW_MS = 1_790_000_000_000
PLATFORMS = [common_pb2.PLATFORM_WEB, common_pb2.PLATFORM_ANDROID, common_pb2.PLATFORM_IOS]
KINDS = [common_pb2.TARGET_KIND_TOKEN, common_pb2.TARGET_KIND_FID]
URGENCIES = [
    common_pb2.URGENCY_UNSPECIFIED,
    common_pb2.URGENCY_VERY_LOW,
    common_pb2.URGENCY_LOW,
    common_pb2.URGENCY_NORMAL,
    common_pb2.URGENCY_HIGH,
]
# Any text, quotes, backslashes, control characters and non-ASCII included.
texts = st.text(max_size=40)
targets = st.text(min_size=1, max_size=200)
data_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10).filter(
    lambda key: (
        key not in ("from", "notification", "message_type")
        and not key.startswith(("google", "gcm"))
    )
)


@st.composite
def notifications(draw: st.DrawFn) -> Notification:
    due = notifications_pb2.NotificationDue(
        event_id="ev-1",
        notification_id=draw(st.text(min_size=1, max_size=40)),
        user_id="user-1",
        collapse_key=draw(st.sampled_from(["", "tea", "Tea timer ended!"])),
        urgency=draw(st.sampled_from(URGENCIES)),
        content=common_pb2.NotificationContent(
            title=draw(texts),
            body=draw(texts),
            icon=draw(st.sampled_from(["", "https://herald.example/icon.png"])),
            image=draw(st.sampled_from(["", "https://herald.example/tea.png"])),
            click_link=draw(st.sampled_from(["", 'https://herald.example/timers/tea?a=1&b="2"'])),
            data=draw(st.dictionaries(data_keys, texts, max_size=4)),
        ),
    )
    if not (due.content.title or due.content.body or due.content.data):
        due.content.title = "Tea is ready"
    due.occurrence_at.FromMilliseconds(NOW_MS)
    if draw(st.booleans()):
        due.expires_at.FromMilliseconds(NOW_MS + draw(st.integers(0, 10 * 2_419_200_000)))
    return parse(Record("herald.notifications.due.v1", 0, 0, "user-1", due, None, NOW_MS))


def encoded_by_firebase_admin(
    notification: Notification,
    kind: common_pb2.TargetKind,
    platform: common_pb2.Platform,
    value: str,
) -> bytes:
    target = common_pb2.Target(kind=kind, value=value)
    return message.encode(message.build(notification, target, platform, NOW_MS))


@settings(max_examples=300, deadline=None)
@given(
    notifications(),
    st.sampled_from(KINDS),
    st.sampled_from(PLATFORMS),
    st.lists(targets, min_size=1, max_size=3),
)
def test_each_target_gets_exactly_the_body_firebase_admin_encodes_for_it(
    notification: Notification,
    kind: common_pb2.TargetKind,
    platform: common_pb2.Platform,
    values: list[str],
) -> None:
    shared = message.template(notification, kind, platform, NOW_MS)
    for value in values:
        expected = encoded_by_firebase_admin(notification, kind, platform, value)
        assert shared.body(value) == expected
        # The SDK path gets the same message, for this target.
        assert message.encode(shared.message_for(notification, value)) == expected
        field = "fid" if kind == common_pb2.TARGET_KIND_FID else "token"
        assert json.loads(shared.body(value))["message"][field] == value


@settings(max_examples=200, deadline=None)
@given(
    notifications(),
    st.lists(
        st.tuples(st.text(min_size=1, max_size=40), st.dictionaries(data_keys, texts, max_size=4)),
        min_size=1,
        max_size=3,
    ),
    st.sampled_from(KINDS),
    st.sampled_from(PLATFORMS),
)
def test_notifications_of_one_shape_get_their_own_tag_and_data(
    first: Notification,
    others: list[tuple[str, dict[str, str]]],
    kind: common_pb2.TargetKind,
    platform: common_pb2.Platform,
) -> None:
    """The shape encoded for the first notification serves the others: same content, another
    id (so another replace tag) and other data."""
    message.template(first, kind, platform, NOW_MS)
    for notification_id, data in others:
        due = notifications_pb2.NotificationDue()
        due.CopyFrom(first.due)
        due.notification_id = notification_id
        due.content.data.clear()
        due.content.data.update(data)
        if not (due.content.title or due.content.body or due.content.data):
            continue
        other = parse(Record("herald.notifications.due.v1", 0, 0, "user-1", due, None, NOW_MS))
        shared = message.template(other, kind, platform, NOW_MS)
        assert shared.body("t-1") == encoded_by_firebase_admin(other, kind, platform, "t-1")


def test_a_template_is_encoded_once_per_platform_kind_and_ttl() -> None:
    due = notifications_pb2.NotificationDue(
        event_id="ev-1",
        notification_id="n-1",
        user_id="user-1",
        content=common_pb2.NotificationContent(title="Tea is ready"),
    )
    due.expires_at.FromMilliseconds(NOW_MS + 60_500)
    notification = parse(Record("t", 0, 0, "user-1", due, None, NOW_MS))
    web = message.template(notification, KINDS[0], PLATFORMS[0], NOW_MS)
    assert message.template(notification, KINDS[0], PLATFORMS[0], NOW_MS + 400) is web
    # A second later the TTL header is one second shorter: a new encoding.
    later = message.template(notification, KINDS[0], PLATFORMS[0], NOW_MS + 1000)
    assert later is not web
    assert json.loads(later.body("t"))["message"]["webpush"]["headers"]["TTL"] == "59"
    assert message.template(notification, KINDS[1], PLATFORMS[0], NOW_MS) is not web
    assert message.template(notification, KINDS[0], PLATFORMS[1], NOW_MS) is not web


def test_an_empty_target_is_refused_as_firebase_admin_refuses_it() -> None:
    due = notifications_pb2.NotificationDue(
        notification_id="n-1",
        user_id="user-1",
        content=common_pb2.NotificationContent(title="Tea is ready"),
    )
    notification = parse(Record("t", 0, 0, "user-1", due, None, NOW_MS))
    with pytest.raises(ValueError, match="non-empty string"):
        encoded_by_firebase_admin(notification, KINDS[0], PLATFORMS[0], "")
    with pytest.raises(ValueError, match="cannot be empty"):
        message.template(notification, KINDS[0], PLATFORMS[0], NOW_MS).body("")


def test_a_notification_and_its_templates_are_freed_without_the_garbage_collector() -> None:
    """A template is kept on its notification and refers to nothing that refers back: a handled
    notification goes as soon as the last reference to it does, instead of waiting as a cycle
    for the collector (which cost the dispatcher about 7% of its CPU)."""
    due = notifications_pb2.NotificationDue(
        event_id="ev-1",
        notification_id="tea-1",
        user_id="user-1",
        content=common_pb2.NotificationContent(title="Tea is ready", data={"timer": "tea"}),
    )
    gc.collect()
    gc.disable()
    try:
        for kind in KINDS:
            for platform in PLATFORMS:
                notification = parse(
                    Record("herald.notifications.due.v1", 0, 0, "user-1", due, None, NOW_MS)
                )
                shared = message.template(notification, kind, platform, NOW_MS)
                built = shared.message_for(notification, "browser-1")
                assert message.encode(built) == shared.body("browser-1")
                del notification, shared, built
        assert gc.collect() == 0
    finally:
        gc.enable()
