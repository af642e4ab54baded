"""Request and response bodies: what the API accepts (strictly) and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

TOKEN_PATTERN = r"^[A-Za-z0-9_:\-]{32,1024}$"
# 22 base64url characters of a 128-bit value whose first four bits are 0111.
FID_PATTERN = r"^[c-f][A-Za-z0-9_\-]{21}$"
PROJECT_ID_PATTERN = r"^[a-z][a-z0-9\-]{4,28}[a-z0-9]$"
TARGET_ID_PATTERN = r"^[0-9a-f]{32}$"
# No control characters (PostgreSQL text cannot hold NUL; labels are shown to people).
PRINTABLE = r"^[^\u0000-\u001f\u007f]*$"
EVENT_ID_PATTERN = r"^[A-Za-z0-9._:\-]{1,128}$"
USER_ID_PATTERN = r"^[^\u0000-\u001f\u007f]{1,255}$"
HTTPS_URL_PATTERN = r"^https://[^\s\u0000-\u001f\u007f]{1,2040}$"
DATA_KEY_PATTERN = r"^[A-Za-z0-9_.\-]{1,64}$"
# FCM reserves these data keys and any key starting with "google" or "gcm".
RESERVED_DATA_KEYS = ("from", "message_type", "collapse_key")
RESERVED_DATA_PREFIXES = ("google", "gcm")
DATA_KEYS_SCHEMA = {
    "pattern": DATA_KEY_PATTERN,
    "not": {"anyOf": [{"enum": list(RESERVED_DATA_KEYS)}, {"pattern": "^(google|gcm)"}]},
}
RRULE_PATTERN = r"^[A-Z0-9=;,+\-]{1,512}$"
MAX_TTL_S = 2_419_200

Platform = Literal["web", "android", "ios"]
TargetKind = Literal["token", "fid"]
Urgency = Literal["very_low", "low", "normal", "high"]
Token = Annotated[str, Field(pattern=TOKEN_PATTERN, description="FCM registration token")]
Fid = Annotated[str, Field(pattern=FID_PATTERN, description="Firebase Installation ID")]
EventId = Annotated[str, Field(pattern=EVENT_ID_PATTERN)]
UserId = Annotated[str, Field(pattern=USER_ID_PATTERN)]
HttpsUrl = Annotated[str, Field(pattern=HTTPS_URL_PATTERN, max_length=2048)]


def _date_time_string(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 date-time string with an offset")
    return value


# Parsed from its string form only (the model-level null check makes validation run in Python
# mode, where strict mode would refuse any string).
Instant = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_date_time_string)]


def _whole_number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# JSON Schema counts 60.0 as an integer; so does the API (but not "60" or true).
Integer = Annotated[int, BeforeValidator(_whole_number)]


def _omit_nulls(schema: dict[str, Any]) -> None:
    """Optional fields are left out, never null: say so in the JSON schema."""
    for prop in schema.get("properties", {}).values():
        options = prop.get("anyOf")
        if options and {"type": "null"} in options:
            rest = [o for o in options if o != {"type": "null"}]
            del prop["anyOf"]
            if len(rest) == 1:
                prop.update(rest[0])
            else:
                prop["anyOf"] = rest
            if "default" in prop and prop["default"] is None:
                del prop["default"]


class Body(BaseModel):
    """A request body: unknown fields, nulls and type coercions are refused."""

    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, json_schema_extra=_omit_nulls
    )

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = sorted(str(k) for k, v in data.items() if v is None)
            if nulls:
                raise ValueError(f"null is not allowed (leave the field out): {', '.join(nulls)}")
        return data


def _one_target(schema: dict[str, Any]) -> None:
    _omit_nulls(schema)
    schema["oneOf"] = [{"required": ["token"]}, {"required": ["fid"]}]


class TargetRef(Body):
    """A device target: exactly one of ``token`` and ``fid``."""

    model_config = ConfigDict(json_schema_extra=_one_target)

    token: Token | None = None
    fid: Fid | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> TargetRef:
        if (self.token is None) == (self.fid is None):
            raise ValueError("give exactly one of token and fid")
        return self

    @property
    def kind(self) -> TargetKind:
        return "token" if self.token is not None else "fid"

    @property
    def value(self) -> str:
        return self.token if self.token is not None else str(self.fid)


class RegisterRequest(TargetRef):
    project_id: Annotated[str, Field(pattern=PROJECT_ID_PATTERN)] | None = None
    platform: Platform = "web"
    device_label: Annotated[str, Field(max_length=100, pattern=PRINTABLE)] = ""
    # Defaults to the request's User-Agent header.
    user_agent: Annotated[str, Field(max_length=512, pattern=PRINTABLE)] | None = None


class RefreshRequest(Body):
    old: TargetRef
    new: RegisterRequest


class TargetView(BaseModel):
    id: str = Field(pattern=TARGET_ID_PATTERN)
    kind: TargetKind
    # The target's first and last characters only.
    masked: str
    project_id: str
    platform: Platform
    device_label: str
    user_agent: str
    created_at: datetime
    last_seen_at: datetime


class RegisterResponse(BaseModel):
    target: TargetView
    # Targets removed to keep the user under the cap, masked.
    evicted: list[str]
    # For a refresh: whether the old target was the caller's and is gone.
    replaced: bool = False


class TargetList(BaseModel):
    targets: list[TargetView]
    max_targets: int


class RemovedCount(BaseModel):
    removed: int


class Content(Body):
    title: Annotated[str, Field(min_length=1, max_length=200, pattern=PRINTABLE)]
    body: Annotated[str, Field(max_length=2000)] = ""
    icon: HttpsUrl | None = None
    click_link: HttpsUrl | None = None
    image: HttpsUrl | None = None
    data: Annotated[
        dict[
            Annotated[str, Field(pattern=DATA_KEY_PATTERN)], Annotated[str, Field(max_length=1024)]
        ],
        Field(max_length=32, json_schema_extra={"propertyNames": DATA_KEYS_SCHEMA}),
    ] = Field(default_factory=dict)

    @field_validator("data")
    @classmethod
    def _no_reserved_keys(cls, data: dict[str, str]) -> dict[str, str]:
        for key in data:
            if key in RESERVED_DATA_KEYS or key.startswith(RESERVED_DATA_PREFIXES):
                raise ValueError(f"{key!r} is reserved by FCM")
        return data


class ReminderRequest(Body):
    # Chosen by the caller to make retries idempotent; generated when left out.
    reminder_id: EventId | None = None
    user_id: UserId
    content: Content
    fire_at: Instant
    # IANA time zone in which ``rrule`` is evaluated.
    time_zone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"
    # RFC 5545 RRULE without the "RRULE:" prefix; left out for a one-shot reminder.
    rrule: Annotated[str, Field(pattern=RRULE_PATTERN)] | None = None
    expires_at: Instant
    occurrence_ttl_s: Annotated[Integer, Field(ge=0, le=MAX_TTL_S)] = 0
    collapse_key: Annotated[str, Field(max_length=64, pattern=PRINTABLE)] = ""
    urgency: Urgency = "normal"


class NotificationRequest(Body):
    notification_id: EventId | None = None
    user_id: UserId
    content: Content
    # Not delivered after this many seconds.
    ttl_s: Annotated[Integer, Field(ge=1, le=MAX_TTL_S)] = 3600
    collapse_key: Annotated[str, Field(max_length=64, pattern=PRINTABLE)] = ""
    urgency: Urgency = "high"


class ReminderAccepted(BaseModel):
    reminder_id: str


class NotificationAccepted(BaseModel):
    notification_id: str


class ProblemBody(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    reason: str
    errors: list[dict[str, Any]] | None = None
