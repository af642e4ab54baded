"""One FCM HTTP v1 message per target, built with firebase-admin's message model and encoded
(and validated) by its own encoder.

A notification's message differs from one target to the next only in the ``token``/``fid``
string, so it is built and encoded once per (platform, kind of target, TTL) with a placeholder
target, and each target's body is that encoding with the target's JSON string in place of the
placeholder: byte for byte what firebase-admin gives for that target (the tests check it), at a
fraction of the cost.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from firebase_admin import messaging  # type: ignore[import-untyped]
from firebase_admin._messaging_encoder import MessageEncoder  # type: ignore[import-untyped]

from herald.v1 import common_pb2
from herald_dispatcher.notification import Notification

MAX_TTL_S = 2_419_200
_ENCODER = MessageEncoder()
# json.dumps with options builds an encoder per call; these are built once (same output).
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_JSON_STRING = json.JSONEncoder(ensure_ascii=False)
_URGENCY = {
    common_pb2.URGENCY_VERY_LOW: "very-low",
    common_pb2.URGENCY_LOW: "low",
    common_pb2.URGENCY_NORMAL: "normal",
    common_pb2.URGENCY_HIGH: "high",
}
_WEB_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")
# Stands for the target while a template is encoded; random, so no content can contain it.
_PLACEHOLDER = f"herald-target-{uuid.uuid4().hex}"


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
    due = notification.due
    content = due.content
    ttl = ttl_s(notification, now_ms)
    fields: dict[str, Any] = {"data": dict(content.data) or None}
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
            notification=messaging.AndroidNotification(tag=replace_tag(notification))
            if shown is not None
            else None,
        )
    elif platform == common_pb2.PLATFORM_IOS:
        fields["notification"] = _notification(content)
        fields["apns"] = _apns(notification)
    else:
        fields["webpush"] = _webpush(notification, ttl)
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
    """A notification's message for one platform and kind of target, encoded once."""

    # Built and encoded by firebase-admin with the placeholder as its token or fid.
    message: messaging.Message
    is_fid: bool
    # The encoded body before and after the placeholder's JSON string.
    head: bytes
    tail: bytes

    def body(self, target: str) -> bytes:
        """The ``messages:send`` body for ``target``, as ``encode(build(…))`` would make it."""
        if not target:
            # firebase-admin's own check: the token or fid must be a non-empty string.
            raise ValueError(f"Message.{'fid' if self.is_fid else 'token'} cannot be empty.")
        return b"".join((self.head, _JSON_STRING.encode(target).encode(), self.tail))

    def message_for(self, target: str) -> messaging.Message:
        """The firebase-admin message for ``target`` (for senders that go through the SDK)."""
        built = copy.copy(self.message)
        if self.is_fid:
            built.fid = target
        else:
            built.token = target
        return built


def template(
    notification: Notification,
    kind: common_pb2.TargetKind,
    platform: common_pb2.Platform,
    now_ms: int,
) -> Template:
    """The notification's template for this platform, kind of target and the TTL left at
    ``now_ms`` (cached on the notification); ValueError when firebase-admin refuses it."""
    key = (platform, kind == common_pb2.TARGET_KIND_FID, ttl_s(notification, now_ms))
    found = notification.templates.get(key)
    if found is None:
        placeholder = common_pb2.Target(kind=kind, value=_PLACEHOLDER)
        built = build(notification, placeholder, platform, now_ms)
        head, marker, tail = encode(built).partition(json.dumps(_PLACEHOLDER).encode())
        if not marker or _PLACEHOLDER.encode() in tail:
            raise ValueError("the message template has no single target")
        found = notification.templates[key] = Template(built, key[1], head, tail)
    return found


def _notification(content: common_pb2.NotificationContent) -> messaging.Notification | None:
    if not (content.title or content.body or content.image):
        return None
    return messaging.Notification(
        title=content.title or None, body=content.body or None, image=content.image or None
    )


def _webpush(notification: Notification, ttl: int | None) -> messaging.WebpushConfig:
    due = notification.due
    content = due.content
    headers: dict[str, str] = {}
    if ttl is not None:
        headers["TTL"] = str(ttl)
    if due.urgency in _URGENCY:
        headers["Urgency"] = _URGENCY[due.urgency]
    tag = replace_tag(notification)
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


def _apns(notification: Notification) -> messaging.APNSConfig:
    due = notification.due
    content = due.content
    headers = {"apns-priority": "10" if due.urgency == common_pb2.URGENCY_HIGH else "5"}
    headers["apns-collapse-id"] = replace_tag(notification)
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
