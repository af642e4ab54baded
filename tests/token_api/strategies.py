"""Hypothesis strategies for what callers send the token-api: request bodies (valid ones built
from the same patterns the API enforces, and near misses that put arbitrary JSON under the real
field names: random objects alone would almost never get past the unknown-field check), and
credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel
from token_api.support import AUDIENCE, ISSUER, SECRET

from herald_token_api.names import SERVICE_KEY_HEADER
from herald_token_api.schemas import (
    DATA_KEY_PATTERN,
    EVENT_ID_PATTERN,
    FID_PATTERN,
    MAX_TTL_S,
    PROJECT_ID_PATTERN,
    RESERVED_DATA_KEYS,
    RESERVED_DATA_PREFIXES,
    TOKEN_PATTERN,
    Content,
    RegisterRequest,
    TargetRef,
)

Json = Any

# Characters a label, title or collapse key may hold: no C0 controls, no DEL, no lone surrogates
# (which are not JSON text).
PRINTABLE_CHARS = st.characters(exclude_categories=("Cc", "Cs"))

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values: st.SearchStrategy[Json] = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)

tokens = st.from_regex(TOKEN_PATTERN, fullmatch=True)
fids = st.from_regex(FID_PATTERN, fullmatch=True)
targets: st.SearchStrategy[dict[str, str]] = st.one_of(
    tokens.map(lambda t: {"token": t}), fids.map(lambda f: {"fid": f})
)
labels = st.text(PRINTABLE_CHARS, max_size=100)
https_urls = st.from_regex(r"https://[a-z0-9]{1,20}\.example/[A-Za-z0-9/_.-]{0,60}", fullmatch=True)
user_ids = st.text(PRINTABLE_CHARS, min_size=1, max_size=255)
event_ids = st.from_regex(EVENT_ID_PATTERN, fullmatch=True)
data_keys = st.from_regex(DATA_KEY_PATTERN, fullmatch=True).filter(
    lambda k: k not in RESERVED_DATA_KEYS and not k.startswith(RESERVED_DATA_PREFIXES)
)


def _optional(
    required: dict[str, Any], optional: dict[str, Any]
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(required, optional=optional)


def register_bodies() -> st.SearchStrategy[dict[str, Any]]:
    """Bodies ``PUT /v1/targets`` accepts."""
    rest = _optional(
        {},
        {
            "project_id": st.from_regex(PROJECT_ID_PATTERN, fullmatch=True),
            "platform": st.sampled_from(["web", "android", "ios"]),
            "device_label": labels,
            "user_agent": st.text(PRINTABLE_CHARS, max_size=512),
        },
    )
    return st.builds(lambda target, extra: {**target, **extra}, targets, rest)


def refresh_bodies() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"old": targets, "new": register_bodies()})


def contents() -> st.SearchStrategy[dict[str, Any]]:
    return _optional(
        {"title": st.text(PRINTABLE_CHARS, min_size=1, max_size=200)},
        {
            "body": st.text(st.characters(exclude_categories=["Cs"]), max_size=200),
            "icon": https_urls,
            "click_link": https_urls,
            "image": https_urls,
            "data": st.dictionaries(data_keys, st.text(max_size=40), max_size=5),
        },
    )


def notification_bodies() -> st.SearchStrategy[dict[str, Any]]:
    """Bodies ``POST /v1/notifications`` accepts (and publishes as they are)."""
    return _optional(
        {"user_id": user_ids, "content": contents()},
        {
            "notification_id": event_ids,
            "ttl_s": st.integers(min_value=1, max_value=MAX_TTL_S),
            "collapse_key": st.text(PRINTABLE_CHARS, max_size=64),
            "urgency": st.sampled_from(["very_low", "low", "normal", "high"]),
        },
    )


def instants() -> st.SearchStrategy[str]:
    """RFC 3339 date-times with an offset, within a few years of now."""
    now = datetime.now(UTC).replace(tzinfo=None)
    offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
        lambda m: UTC if m == 0 else timezone(timedelta(minutes=m))
    )
    return st.builds(
        lambda when, zone: when.replace(tzinfo=zone).isoformat(),
        st.datetimes(min_value=now - timedelta(days=300), max_value=now + timedelta(days=3000)),
        offsets,
    )


def reminder_bodies() -> st.SearchStrategy[dict[str, Any]]:
    """Bodies the reminder decoder accepts (whether the times make sense is the handler's job)."""
    return _optional(
        {
            "user_id": user_ids,
            "content": contents(),
            "fire_at": instants(),
            "expires_at": instants(),
        },
        {
            "reminder_id": event_ids,
            "time_zone": st.sampled_from(["UTC", "Europe/Paris", "America/New_York"]),
            "rrule": st.sampled_from(
                ["FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,FR", "FREQ=HOURLY;COUNT=3"]
            ),
            "occurrence_ttl_s": st.integers(min_value=0, max_value=MAX_TTL_S),
            "collapse_key": st.text(PRINTABLE_CHARS, max_size=64),
            "urgency": st.sampled_from(["very_low", "low", "normal", "high"]),
        },
    )


VALID: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "RegisterRequest": register_bodies(),
    "RefreshRequest": refresh_bodies(),
    "NotificationRequest": notification_bodies(),
    "ReminderRequest": reminder_bodies(),
}


# The models the body models nest.
NESTED: tuple[type[BaseModel], ...] = (Content, RegisterRequest, TargetRef)


def near_misses(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Json]]:
    """Objects with some of ``model``'s fields (valid values or any JSON, nested models
    recursed into), now and then an unknown field."""
    fields: dict[str, st.SearchStrategy[Json]] = {}
    for name, field in model.model_fields.items():
        nested = [m for m in NESTED if field.annotation is m]
        plausible = near_misses(nested[0]) if nested else _plausible(name)
        fields[name] = plausible | json_values
    extra = st.dictionaries(st.text(max_size=10), json_values, max_size=1)
    return st.builds(lambda known, unknown: {**unknown, **known}, _optional({}, fields), extra)


def _plausible(name: str) -> st.SearchStrategy[Json]:
    by_name: dict[str, st.SearchStrategy[Json]] = {
        "token": tokens,
        "fid": fids,
        "fire_at": instants(),
        "expires_at": instants(),
        "user_id": user_ids,
        "ttl_s": st.integers(min_value=-5, max_value=MAX_TTL_S + 5) | st.floats(0, 10),
        "occurrence_ttl_s": st.integers(min_value=-5, max_value=MAX_TTL_S + 5),
        "data": st.dictionaries(st.text(max_size=12), json_values, max_size=3),
    }
    return by_name.get(name, st.text(max_size=30))


def schedulable_reminders() -> st.SearchStrategy[dict[str, Any]]:
    """Reminder bodies the handler accepts too: fire_at within the last 300 days or the next
    3,000, expires_at after it and at least an hour ahead (both computed when drawn)."""

    def timed(body: dict[str, Any], fire_in_s: int, lasts_s: int, offset_min: int) -> Any:
        zone = timezone(timedelta(minutes=offset_min))
        now = datetime.now(UTC)
        fire_at = now + timedelta(seconds=fire_in_s)
        expires_at = max(fire_at + timedelta(seconds=lasts_s), now + timedelta(hours=1))
        times = {"fire_at": fire_at.astimezone(zone), "expires_at": expires_at.astimezone(zone)}
        return body | {k: v.isoformat() for k, v in times.items()}

    return st.builds(
        timed,
        reminder_bodies(),
        st.integers(-300 * 86400, 3000 * 86400),
        st.integers(1, 600 * 86400),
        st.integers(-14 * 60, 14 * 60),
    )


# Credentials, as aiohttp hands them on. (Header bytes that are not UTF-8 become lone
# surrogates, which a mocked request cannot hold: test_security.py sends those over a socket.)
header_text = st.text(max_size=80)
jose_headers = json_values | st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["HS256", "RS256", "ES256", "none", "HS512"]) | json_values,
        "kid": json_values,
        "typ": json_values,
        "b64": st.booleans(),
        "crit": json_values,
    },
)
claim_sets = json_values | st.fixed_dictionaries(
    {},
    optional={
        "sub": st.just("alice") | json_values,
        "iss": st.just(ISSUER) | json_values,
        "aud": st.just(AUDIENCE) | st.lists(st.just(AUDIENCE) | st.text()) | json_values,
        "exp": st.just(4102444800) | json_values | st.floats(),
        "nbf": json_values | st.floats(),
        "iat": json_values | st.floats(),
        "scope": st.just("herald:service") | json_values,
        "scp": st.lists(st.just("herald:service") | json_values),
    },
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(header: Any, claims: Any, key: bytes | None) -> str:
    """A JWT of any header and claims (NaN and Infinity included), HS256-signed with ``key``
    or with garbage: PyJWT's encoder would refuse some of these, an attacker's would not."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    mac = hmac.new(key or b"not-the-key", signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


credentials: st.SearchStrategy[dict[str, str]] = (
    header_text.map(lambda text: {"Authorization": text})
    | header_text.map(lambda text: {"Authorization": f"Bearer {text}"})
    | header_text.map(lambda text: {SERVICE_KEY_HEADER: text})
    | st.builds(
        lambda h, c, k: {"Authorization": f"Bearer {signed(h, c, k)}"},
        jose_headers,
        claim_sets,
        st.sampled_from([SECRET.encode(), None]),
    )
)
