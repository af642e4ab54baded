"""The dispatcher's settings, read from ``HERALD_*`` environment variables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from herald.settings import HeraldSettings

REAL_FCM_URL = "https://fcm.googleapis.com"
EMULATOR_URL = "http://127.0.0.1:18080"


class DispatcherSettings(HeraldSettings):
    # Redis holding the token projection, delivery keys and the rate limiter (a URL that may
    # carry a password, so it never prints).
    redis_url: SecretStr = SecretStr("redis://127.0.0.1:63790/0")
    health_port: int = Field(default=9402, ge=0, le=65535)
    # Consumer group of the send loop; the token projection uses "<group_id>-tokens". Both get
    # the topic namespace as a prefix.
    group_id: str = "herald-dispatcher"

    # Where messages:send is posted: the FCM emulator in development, real FCM in production.
    fcm_base_url: str = EMULATOR_URL
    # FCM project -> service-account file, as JSON ({"p": "/keys/p.json"}) or "p=/keys/p.json,…".
    fcm_credentials: Annotated[dict[str, Path], NoDecode] = Field(default_factory=dict)
    # Project of targets that name none; empty = the only configured project.
    fcm_default_project: str = ""
    # "http" (Herald's keep-alive HTTP/1.1 pool, http1.py) or "firebase-admin"
    # (send_each_async, for comparison).
    fcm_client: Literal["http", "firebase-admin"] = "http"
    # Requests to FCM in flight at once in this process (also the connection pool size).
    max_in_flight: int = Field(default=500, ge=1, le=10_000)
    # A notification with less than this left before its expires_at is not sent (reported
    # expired): the request could reach FCM after the expiry.
    expiry_margin_ms: int = Field(default=250, ge=0)
    # FCM asks for at least 10 s.
    send_timeout_s: float = Field(default=10.0, ge=10.0)
    # An access token is refreshed this long before it expires.
    token_refresh_margin_s: float = Field(default=300.0, ge=0)

    # Records of herald.notifications.due.v1 handled (and committed) together.
    batch_max_records: int = Field(default=1000, ge=1, le=10_000)
    # Batches handled at once while there is a backlog: the next one is fetched and its sends
    # start while the previous one's last answers are awaited (each is committed once it and
    # every earlier one finished).
    batches_in_flight: int = Field(default=2, ge=1, le=8)
    # Attempts per (notification, target), all retries included, before it is dead-lettered.
    max_attempts: int = Field(default=10, ge=1)
    # No attempt later than this after the occurrence was due (FCM: give up after ~60 min).
    max_retry_age_s: float = Field(default=3600.0, gt=0)
    # Exponential backoff for UNAVAILABLE, INTERNAL and network errors (with jitter).
    retry_base_delay_s: float = Field(default=1.0, gt=0)
    retry_max_delay_s: float = Field(default=900.0, gt=0)
    # Back-off after QUOTA_EXCEEDED without Retry-After (FCM: at least 60 s).
    quota_retry_delay_s: float = Field(default=60.0, ge=60.0)
    # Retries this close are waited for in process; later ones go back through the scheduler.
    inprocess_retry_max_delay_s: float = Field(default=5.0, ge=0)
    inprocess_max_retries: int = Field(default=3, ge=0)

    # Shared rate limit per FCM project, across all replicas (FCM: 600,000 a minute).
    rate_per_minute: int = Field(default=600_000, ge=1)
    # Burst allowance of the token bucket, in seconds of the rate.
    rate_burst_s: float = Field(default=1.0, gt=0)
    # The rate climbs linearly from 1/ramp to full over this long after a project's bucket
    # is created (0 = no ramp).
    rate_ramp_up_s: float = Field(default=60.0, ge=0)
    # A bucket unused this long is forgotten, so the next sender ramps up again.
    rate_idle_reset_s: float = Field(default=600.0, gt=0)

    # How long a (notification, occurrence, target) delivery key is kept after its outcome.
    idempotency_ttl_s: int = Field(default=3600, ge=60)
    # How often the projection checks that Redis still holds its state.
    projection_check_s: float = Field(default=1.0, gt=0)
    # How long a batch waits for the projection to be rebuilt before it is retried.
    projection_wait_s: float = Field(default=30.0, gt=0)

    kafka_linger_ms: int = Field(default=5, ge=0)
    # How long delivery reports wait to fill a record batch per partition (a batch's reports
    # are handed over at its end in any case, before its commit).
    report_linger_ms: int = Field(default=50, ge=0, le=1000)
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1000)

    @field_validator("fcm_credentials", mode="before")
    @classmethod
    def _parse_credentials(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text:
            return {}
        if text.startswith("{"):
            return json.loads(text)
        pairs = (item.split("=", 1) for item in text.split(",") if item.strip())
        return {project.strip(): path.strip() for project, path in pairs}

    @model_validator(mode="after")
    def _check_default_project(self) -> DispatcherSettings:
        default = self.fcm_default_project
        if default and self.fcm_credentials and default not in self.fcm_credentials:
            raise ValueError("fcm_default_project has no entry in fcm_credentials")
        return self

    @property
    def default_project(self) -> str:
        if self.fcm_default_project:
            return self.fcm_default_project
        if len(self.fcm_credentials) == 1:
            return next(iter(self.fcm_credentials))
        return ""

    @property
    def send_group_id(self) -> str:
        return self.topic_namespace + self.group_id

    @property
    def tokens_group_id(self) -> str:
        return f"{self.topic_namespace}{self.group_id}-tokens"
