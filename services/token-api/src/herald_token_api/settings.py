"""The token-api's settings, read from ``HERALD_*`` environment variables."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from herald.settings import HeraldSettings

DEFAULT_DATABASE_URL = "postgresql://herald:herald@127.0.0.1:54329/herald"
MIN_HS256_SECRET_BYTES = 32


class TokenApiSettings(HeraldSettings):
    # PostgreSQL, as a libpq URL.
    database_url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
    db_pool_min_size: int = Field(default=2, ge=0)
    db_pool_max_size: int = Field(default=10, ge=1)
    # Bound on connecting, acquiring a pooled connection and running one statement.
    db_timeout_s: float = Field(default=5.0, gt=0)
    # Apply pending migrations when the server starts (``herald-token-api migrate`` does it alone).
    migrate_on_start: bool = True
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    # Connections waiting to be accepted (the kernel caps it at net.core.somaxconn). aiohttp's
    # 128 drops the SYNs of a larger burst (clients reconnecting after a deploy), and each of
    # those connections waits a second or more for its retransmission.
    http_backlog: int = Field(default=4096, ge=1, le=65535)
    max_body_bytes: int = Field(default=16_384, ge=1024)
    # Browser origins allowed to call the API (CORS), comma-separated; empty = none.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()

    # User JWTs: HS256 with this secret, and/or RS256/ES256 with keys from this JWKS URL.
    jwt_hs256_secret: SecretStr | None = None
    jwt_jwks_url: str = ""
    jwt_jwks_cache_s: float = Field(default=300.0, gt=0)
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_leeway_s: float = Field(default=30.0, ge=0)
    # Verified tokens remembered by their text (0 = verify every request), and for how long at most.
    jwt_verified_cache_size: int = Field(default=10_000, ge=0, le=1_000_000)
    jwt_verified_cache_max_age_s: float = Field(default=60.0, gt=0)
    # Service credentials: any of these keys in X-Herald-Service-Key (comma-separated), or a
    # user-style JWT whose ``scope`` holds ``service_scope``.
    service_api_keys: SecretStr | None = None
    service_scope: str = "herald:service"

    max_targets_per_user: int = Field(default=10, ge=1, le=1000)
    prune_after_days: int = Field(default=60, ge=1)
    prune_interval_s: float = Field(default=24 * 3600.0, gt=0)
    # The relay wakes on NOTIFY; this poll is the fallback.
    relay_poll_interval_s: float = Field(default=5.0, gt=0)
    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    # How long a service endpoint waits for Kafka's ack before answering 503.
    publish_timeout_s: float = Field(default=5.0, gt=0)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
        return value

    def service_keys(self) -> tuple[str, ...]:
        if self.service_api_keys is None:
            return ()
        raw = self.service_api_keys.get_secret_value()
        return tuple(k.strip() for k in raw.split(",") if k.strip())

    def check_auth(self) -> None:
        """Raise ValueError when user tokens could not be verified as configured."""
        secret = self.jwt_hs256_secret
        if secret is None and not self.jwt_jwks_url:
            raise ValueError("set HERALD_JWT_HS256_SECRET or HERALD_JWT_JWKS_URL")
        if secret is not None and len(secret.get_secret_value().encode()) < MIN_HS256_SECRET_BYTES:
            raise ValueError(f"HERALD_JWT_HS256_SECRET needs {MIN_HS256_SECRET_BYTES}+ bytes")
        if not self.jwt_issuer or not self.jwt_audience:
            raise ValueError("set HERALD_JWT_ISSUER and HERALD_JWT_AUDIENCE")
