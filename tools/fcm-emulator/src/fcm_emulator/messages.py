"""Validation of a `messages:send` request body, as FCM HTTP v1 does it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fcm_emulator.errors import FcmError, FcmErrorCode

MAX_PAYLOAD_BYTES = 4096
MAX_TOPIC_PAYLOAD_BYTES = 2048
MAX_TTL_S = 2_419_200
URGENCIES = frozenset({"very-low", "low", "normal", "high"})
TARGET_FIELDS = ("token", "fid", "topic", "condition")

_REQUEST_FIELDS = frozenset({"message", "validate_only", "validateOnly"})
_MESSAGE_FIELDS = frozenset(
    {"name", "data", "notification", "android", "webpush", "apns", "fcm_options", "fcmOptions"}
    | set(TARGET_FIELDS)
)
_NOTIFICATION_FIELDS = frozenset({"title", "body", "image"})
_WEBPUSH_FIELDS = frozenset({"headers", "data", "notification", "fcm_options", "fcmOptions"})
_WEBPUSH_OPTION_FIELDS = frozenset({"link", "analytics_label", "analyticsLabel"})
_OPTION_FIELDS = frozenset({"analytics_label", "analyticsLabel"})
_WEBPUSH_NOTIFICATION_SHOWN = ("title", "body", "image", "icon")
_RESERVED_DATA_KEYS = frozenset({"from", "notification", "message_type"})
_RESERVED_DATA_PREFIXES = ("google", "gcm")
_TARGET_FIELD_SET = frozenset(TARGET_FIELDS)
_TOPIC_RE = re.compile(r"[a-zA-Z0-9\-_.~%]{1,900}")
_LABEL_RE = re.compile(r"[a-zA-Z0-9\-_.~%]{1,50}")
_PUSH_TOPIC_RE = re.compile(r"[A-Za-z0-9_\-]{1,32}")
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class SendRequest:
    """A valid send: where it goes and what a browser receives (Firebase JS SDK MessagePayload
    without `from` and `messageId`, which are added on delivery)."""

    target_kind: str
    target: str
    validate_only: bool
    payload: dict[str, Any]
    message: dict[str, Any]


def _invalid(message: str, field: str | None = None) -> FcmError:
    return FcmError(FcmErrorCode.INVALID_ARGUMENT, message, field=field)


def _type_error(path: str, type_name: str, value: Any) -> FcmError:
    shown = json.dumps(value, separators=(",", ":"))
    return _invalid(f"Invalid value at '{path}' ({type_name}), {shown}", path)


def _check_fields(obj: Any, path: str, allowed: frozenset[str], type_name: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _type_error(path, type_name, obj)
    if not allowed.issuperset(obj):
        for key in obj:
            if key not in allowed:
                where = f" at '{path}'" if path else ""
                raise _invalid(
                    f'Invalid JSON payload received. Unknown name "{key}"{where}: '
                    "Cannot find field."
                )
    return obj


def _option(obj: dict[str, Any], snake: str, camel: str) -> Any:
    value = obj.get(snake)
    return obj.get(camel) if value is None else value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _type_error(path, "TYPE_STRING", value)
    return value


def _string_map(value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _type_error(path, "map<string, string>", value)
    for item in value.values():
        if not isinstance(item, str):
            index = next(i for i, v in enumerate(value.values()) if not isinstance(v, str))
            raise _type_error(f"{path}[{index}].value", "TYPE_STRING", item)
    return value


def _data(value: Any, path: str) -> dict[str, str]:
    data = _string_map(value, path)
    for key in data:
        if key in _RESERVED_DATA_KEYS or key.startswith(_RESERVED_DATA_PREFIXES):
            raise _invalid(f"Invalid data payload key: {key}", path)
    return data


def _target(message: dict[str, Any]) -> tuple[str, str]:
    chosen: str | None = None
    for field in message:
        if field in _TARGET_FIELD_SET and message[field] is not None:
            if chosen is not None:
                raise _invalid(
                    "Invalid value at 'message' (oneof), oneof field 'target' is already set. "
                    f"Cannot set '{field}'",
                    "message",
                )
            chosen = field
    if chosen is None:
        raise _invalid("Recipient of the message is not set.", "message")
    value = message[chosen]
    if not isinstance(value, str):
        raise _type_error(f"message.{chosen}", "TYPE_STRING", value)
    if chosen == "topic" and not _TOPIC_RE.fullmatch(value):
        raise _invalid(f"Invalid topic name: {value}", "message.topic")
    if chosen == "condition" and not value.strip():
        raise _invalid("Invalid condition expression provided.", "message.condition")
    return chosen, value


def _webpush_headers(value: Any) -> dict[str, str]:
    headers = _string_map(value, "message.webpush.headers")
    for name, raw in headers.items():
        lowered = name.lower()
        if lowered == "ttl" and not (raw.isascii() and raw.isdigit() and int(raw) <= MAX_TTL_S):
            raise _invalid(
                f"The TTL header must be a whole number of seconds from 0 to {MAX_TTL_S}, "
                f"got {raw!r}",
                "message.webpush.headers",
            )
        if lowered == "urgency" and raw not in URGENCIES:
            raise _invalid(
                f"The Urgency header must be one of very-low, low, normal, high, got {raw!r}",
                "message.webpush.headers",
            )
        if lowered == "topic" and not _PUSH_TOPIC_RE.fullmatch(raw):
            raise _invalid(
                "The Topic header must be at most 32 characters of the URL-safe base64 alphabet",
                "message.webpush.headers",
            )
    return headers


def _link(value: Any) -> str:
    path = "message.webpush.fcm_options.link"
    link = _string(value, path)
    parts = urlsplit(link)
    if parts.scheme.lower() != "https" or not parts.netloc:
        raise _invalid("The link in webpush.fcm_options must be an HTTPS URL.", path)
    return link


def _label(value: Any, path: str) -> str:
    label = _string(value, path)
    if not _LABEL_RE.fullmatch(label):
        raise _invalid(f"Invalid analytics label: {label}", path)
    return label


def _notification(shared: Any) -> dict[str, str]:
    _check_fields(shared, "message.notification", _NOTIFICATION_FIELDS, "Notification")
    for key, value in shared.items():
        if not isinstance(value, str):
            raise _type_error(f"message.notification.{key}", "TYPE_STRING", value)
    return dict(shared)


def _payload(message: dict[str, Any]) -> dict[str, Any]:
    shared = message.get("notification")
    notification: dict[str, str] = {} if shared is None else _notification(shared)
    shared_data = message.get("data")
    data: dict[str, str] = {} if shared_data is None else dict(_data(shared_data, "message.data"))
    options: dict[str, str] = {}
    shared_options = _option(message, "fcm_options", "fcmOptions")
    if shared_options is not None:
        _check_fields(shared_options, "message.fcm_options", _OPTION_FIELDS, "FcmOptions")
        label = _option(shared_options, "analytics_label", "analyticsLabel")
        if label is not None:
            options["analyticsLabel"] = _label(label, "message.fcm_options.analytics_label")
    for platform in ("android", "apns"):
        config = message.get(platform)
        if config is not None and not isinstance(config, dict):
            raise _type_error(f"message.{platform}", "object", config)
    webpush = message.get("webpush")
    if webpush is not None:
        _check_fields(webpush, "message.webpush", _WEBPUSH_FIELDS, "WebpushConfig")
        headers = webpush.get("headers")
        if headers is not None:
            _webpush_headers(headers)
        web_data = webpush.get("data")
        if web_data is not None:
            data.update(_data(web_data, "message.webpush.data"))
        shown = webpush.get("notification")
        if shown is not None:
            if not isinstance(shown, dict):
                raise _type_error("message.webpush.notification", "google.protobuf.Struct", shown)
            for key in _WEBPUSH_NOTIFICATION_SHOWN:
                value = shown.get(key)
                if isinstance(value, str):
                    notification[key] = value
        web_options = _option(webpush, "fcm_options", "fcmOptions")
        if web_options is not None:
            path = "message.webpush.fcm_options"
            _check_fields(web_options, path, _WEBPUSH_OPTION_FIELDS, "WebpushFcmOptions")
            link = web_options.get("link")
            if link is not None:
                options["link"] = _link(link)
            label = _option(web_options, "analytics_label", "analyticsLabel")
            if label is not None:
                options["analyticsLabel"] = _label(label, f"{path}.analytics_label")
    payload: dict[str, Any] = {}
    if notification:
        payload["notification"] = notification
    if data:
        payload["data"] = data
    if options:
        payload["fcmOptions"] = options
    return payload


def collapse_key(message: dict[str, Any]) -> str:
    headers = (message.get("webpush") or {}).get("headers") or {}
    for name, value in headers.items():
        if name.lower() == "topic":
            return str(value)
    return "do_not_collapse"


def parse_send_request(body: Any) -> SendRequest:
    """Validate a decoded request body; raise `FcmError(INVALID_ARGUMENT)` with FCM's wording."""
    request = _check_fields(body, "", _REQUEST_FIELDS, "SendMessageRequest")
    validate_only = _option(request, "validate_only", "validateOnly")
    if validate_only is not None and not isinstance(validate_only, bool):
        raise _type_error("validate_only", "TYPE_BOOL", validate_only)
    if request.get("message") is None:
        raise _invalid("Recipient of the message is not set.", "message")
    message = _check_fields(request["message"], "message", _MESSAGE_FIELDS, "Message")
    kind, target = _target(message)
    payload = _payload(message)
    limit = MAX_TOPIC_PAYLOAD_BYTES if kind == "topic" else MAX_PAYLOAD_BYTES
    try:
        size = len(_COMPACT_JSON.encode(payload).encode())
    except UnicodeEncodeError:
        raise _invalid(
            "Invalid JSON payload received. A string holds a lone UTF-16 surrogate.", "message"
        ) from None
    if size > limit:
        raise _invalid(f"Message is too big: {size} bytes, the limit is {limit}", "message")
    return SendRequest(kind, target, bool(validate_only), payload, message)
