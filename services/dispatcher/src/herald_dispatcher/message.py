"""One FCM HTTP v1 message per target, built with firebase-admin's message model and encoded
(and validated) by its own encoder.

Notifications of the same content, urgency, collapse key and TTL, for the same platform and kind
of target, are encoded alike but for three parts: the target (``token``/``fid``), the replace
tag (the notification's id unless a collapse key sets it) and the data map. Such a *shape* is
built and encoded by firebase-admin once, with marks for those parts; a notification's template
is that encoding with its tag and data put in, and each target's body is the template with the
target's JSON string put in: byte for byte what firebase-admin gives for that target (the tests
check it), at a fraction of the cost.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from firebase_admin import messaging  # type: ignore[import-untyped]
from firebase_admin._messaging_encoder import MessageEncoder  # type: ignore[import-untyped]

from herald.v1 import common_pb2
from herald_dispatcher.notification import Notification

MAX_TTL_S = 2_419_200
_ENCODER = MessageEncoder()
# json.dumps with options builds an encoder per call; this one is built once (same output).
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
# A str as JSON with ensure_ascii=False: what the encoder writes for each string.
_json_string = json.encoder.encode_basestring
_URGENCY = {
    common_pb2.URGENCY_VERY_LOW: "very-low",
    common_pb2.URGENCY_LOW: "low",
    common_pb2.URGENCY_NORMAL: "normal",
    common_pb2.URGENCY_HIGH: "high",
}
_WEB_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")
# Stand for a notification's own parts while its shape is encoded; random, so no content can
# contain them. The tag mark is 32 hex digits: a web topic as it is (see ``web_topic``).
_TARGET_MARK = f"herald-target-{uuid.uuid4().hex}"
_TARGET_MARK_BYTES = _TARGET_MARK.encode()
_TARGET_MARK_JSON = json.dumps(_TARGET_MARK).encode()
_TAG_MARK = uuid.uuid4().hex
_TAG_MARK_BYTES = _TAG_MARK.encode()
_DATA_MARK = f"herald-data-{uuid.uuid4().hex}"
_DATA_MARK_BYTES = _JSON.encode({_DATA_MARK: ""}).encode()
# Encoded shapes kept (all dropped when full: a new second's TTL makes new ones anyway).
_MAX_SHAPES = 4096
_SHAPES: dict[tuple[Any, ...], _Shape] = {}


def web_topic(collapse_key: str) -> str:
    """The Web Push ``Topic`` header: at most 32 URL-safe base64 characters."""
    if _WEB_TOPIC.fullmatch(collapse_key):
        return collapse_key
    digest = hashlib.sha256(collapse_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:32]


def replace_tag(notification: Notification) -> str:
    """What the device replaces a notification by: its collapse key, else its own id.

    Every message carries it (web push ``Topic`` and notification ``tag``, Android notification
    ``tag``, ``apns-collapse-id``), so a delivery sent again after an interrupted attempt
    replaces the one the device may already show instead of showing a second one.
    """
    return web_topic(notification.due.collapse_key or notification.notification_id)


def ttl_s(notification: Notification, now_ms: int) -> int | None:
    if notification.expires_at_ms is None:
        return None
    return max(0, min(MAX_TTL_S, (notification.expires_at_ms - now_ms) // 1000))


def build(
    notification: Notification,
    target: common_pb2.Target,
    platform: common_pb2.Platform,
    now_ms: int,
) -> messaging.Message:
    content = notification.due.content
    return _compose(
        notification,
        target,
        platform,
        ttl_s(notification, now_ms),
        replace_tag(notification),
        dict(content.data) or None,
    )


def _compose(
    notification: Notification,
    target: common_pb2.Target,
    platform: common_pb2.Platform,
    ttl: int | None,
    tag: str,
    data: dict[str, str] | None,
) -> messaging.Message:
    due = notification.due
    content = due.content
    fields: dict[str, Any] = {"data": data}
    is_fid = target.kind == common_pb2.TARGET_KIND_FID
    if is_fid:
        fields["fid"] = target.value
    if platform == common_pb2.PLATFORM_ANDROID:
        shown = _notification(content)
        fields["notification"] = shown
        fields["android"] = messaging.AndroidConfig(
            collapse_key=due.collapse_key or None,
            priority="high" if due.urgency == common_pb2.URGENCY_HIGH else "normal",
            ttl=ttl,
            notification=messaging.AndroidNotification(tag=tag) if shown is not None else None,
        )
    elif platform == common_pb2.PLATFORM_IOS:
        fields["notification"] = _notification(content)
        fields["apns"] = _apns(notification, tag)
    else:
        fields["webpush"] = _webpush(notification, ttl, tag)
    built = messaging.Message(**fields)
    if not is_fid:
        # firebase-admin 7.7 deprecates Message.token (warning on each construction) in favour
        # of fid; registration tokens are still addressed through it.
        built.token = target.value
    return built


def encode(message: messaging.Message) -> bytes:
    """The ``messages:send`` request body; ValueError when firebase-admin refuses the message."""
    body = {"message": _ENCODER.default(message)}
    return _JSON.encode(body).encode()


@dataclass(frozen=True, slots=True)
class Template:
    """A notification's message for one platform and kind of target, encoded once.

    It is kept on the notification, so it holds no reference back to it (no closure over it):
    a handled notification is then freed at once by reference counting, not left as a cycle
    for the garbage collector to find, which cost the dispatcher about 7% of its CPU."""

    kind: common_pb2.TargetKind
    platform: common_pb2.Platform
    # The instant the TTL was taken at.
    now_ms: int
    # The encoded body before and after the target's JSON string.
    head: bytes
    tail: bytes

    @property
    def is_fid(self) -> bool:
        return self.kind == common_pb2.TARGET_KIND_FID

    def body(self, target: str) -> bytes:
        """The ``messages:send`` body for ``target``, as ``encode(build(…))`` would make it."""
        if not target:
            # firebase-admin's own check: the token or fid must be a non-empty string.
            raise ValueError(f"Message.{'fid' if self.is_fid else 'token'} cannot be empty.")
        return b"".join((self.head, _json_string(target).encode(), self.tail))

    def message_for(self, notification: Notification, target: str) -> messaging.Message:
        """firebase-admin's message of ``notification`` (the one this template is of) for
        ``target``, for senders that go through the SDK."""
        return build(
            notification,
            common_pb2.Target(kind=self.kind, value=target),
            self.platform,
            self.now_ms,
        )


@dataclass(frozen=True, slots=True)
class _Shape:
    """What notifications of the same content, urgency, collapse key, platform, kind of target
    and TTL are encoded to, with marks where their target, tag and data go."""

    head: bytes
    tail: bytes
    has_data: bool

    def fill(self, part: bytes, tag: bytes, data: bytes) -> bytes:
        part = part.replace(_TAG_MARK_BYTES, tag)
        return part.replace(_DATA_MARK_BYTES, data) if self.has_data else part


def template(
    notification: Notification,
    kind: common_pb2.TargetKind,
    platform: common_pb2.Platform,
    now_ms: int,
) -> Template:
    """The notification's template for this platform, kind of target and the TTL left at
    ``now_ms`` (cached on the notification); ValueError when firebase-admin refuses it."""
    ttl = ttl_s(notification, now_ms)
    key = (platform, kind == common_pb2.TARGET_KIND_FID, ttl)
    found = notification.templates.get(key)
    if found is None:
        shape = _shape(notification, kind, platform, ttl)
        tag = replace_tag(notification).encode()
        data = _data_json(notification.due.content.data) if shape.has_data else b""
        found = notification.templates[key] = Template(
            kind,
            platform,
            now_ms,
            shape.fill(shape.head, tag, data),
            shape.fill(shape.tail, tag, data),
        )
    return found


def _data_json(data: Mapping[str, str]) -> bytes:
    """``_JSON.encode(dict(data))`` for a string map, without an encoder made per call."""
    pairs = ",".join(f"{_json_string(key)}:{_json_string(value)}" for key, value in data.items())
    return f"{{{pairs}}}".encode()


def _shape(
    notification: Notification,
    kind: common_pb2.TargetKind,
    platform: common_pb2.Platform,
    ttl: int | None,
) -> _Shape:
    """Built and encoded by firebase-admin once per shape, with marks for the target, the tag
    (unless a collapse key fixes it) and the data; the marks' replacements need no check of
    firebase-admin's: a tag is URL-safe base64 and data is a string map (see the tests)."""
    due = notification.due
    content = due.content
    expires_s = None
    if platform == common_pb2.PLATFORM_IOS and notification.expires_at_ms is not None:
        expires_s = notification.expires_at_ms // 1000
    key = (
        platform,
        kind,
        ttl,
        expires_s,
        due.urgency,
        due.collapse_key,
        content.title,
        content.body,
        content.icon,
        content.image,
        content.click_link,
        bool(content.data),
    )
    found = _SHAPES.get(key)
    if found is None:
        tag = replace_tag(notification) if due.collapse_key else _TAG_MARK
        data = {_DATA_MARK: ""} if content.data else None
        placeholder = common_pb2.Target(kind=kind, value=_TARGET_MARK)
        encoded = encode(_compose(notification, placeholder, platform, ttl, tag, data))
        head, marker, tail = encoded.partition(_TARGET_MARK_JSON)
        if not marker or _TARGET_MARK_BYTES in tail:
            raise ValueError("the message template has no single target")
        if data and (head + tail).count(_DATA_MARK_BYTES) != 1:
            raise ValueError("the message template has no single data object")
        if len(_SHAPES) >= _MAX_SHAPES:
            _SHAPES.clear()
        found = _SHAPES[key] = _Shape(head, tail, data is not None)
    return found


def _notification(content: common_pb2.NotificationContent) -> messaging.Notification | None:
    if not (content.title or content.body or content.image):
        return None
    return messaging.Notification(
        title=content.title or None, body=content.body or None, image=content.image or None
    )


def _webpush(notification: Notification, ttl: int | None, tag: str) -> messaging.WebpushConfig:
    due = notification.due
    content = due.content
    headers: dict[str, str] = {}
    if ttl is not None:
        headers["TTL"] = str(ttl)
    if due.urgency in _URGENCY:
        headers["Urgency"] = _URGENCY[due.urgency]
    headers["Topic"] = tag
    shown = None
    if content.title or content.body or content.icon or content.image:
        shown = messaging.WebpushNotification(
            title=content.title or None,
            body=content.body or None,
            icon=content.icon or None,
            image=content.image or None,
            tag=tag,
        )
    link = messaging.WebpushFCMOptions(link=content.click_link) if content.click_link else None
    return messaging.WebpushConfig(headers=headers or None, notification=shown, fcm_options=link)


def _apns(notification: Notification, tag: str) -> messaging.APNSConfig:
    due = notification.due
    content = due.content
    headers = {"apns-priority": "10" if due.urgency == common_pb2.URGENCY_HIGH else "5"}
    headers["apns-collapse-id"] = tag
    if notification.expires_at_ms is not None:
        headers["apns-expiration"] = str(notification.expires_at_ms // 1000)
    alert = None
    if content.title or content.body:
        alert = messaging.ApsAlert(title=content.title or None, body=content.body or None)
    aps = messaging.Aps(
        alert=alert,
        content_available=True if alert is None else None,
        mutable_content=True if content.image else None,
    )
    options = messaging.APNSFCMOptions(image=content.image) if content.image else None
    return messaging.APNSConfig(
        headers=headers, payload=messaging.APNSPayload(aps=aps), fcm_options=options
    )
