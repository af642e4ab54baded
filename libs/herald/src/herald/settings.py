"""Settings read from the environment (defaults, then ``HERALD_*`` variables)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from herald.eventloop import EventLoopChoice


class HeraldSettings(BaseSettings):
    """Settings every Herald process shares. Services subclass this and add their own."""

    model_config = SettingsConfigDict(env_prefix="HERALD_", extra="ignore", frozen=True)

    # Kafka bootstrap servers, comma-separated.
    kafka_bootstrap: str = "127.0.0.1:19092"
    # Prefix of every topic name, keeping environments that share a cluster apart ("" in prod).
    topic_namespace: str = ""
    # Replication factor of the topics ``herald-topics apply`` creates (3 in production).
    kafka_replication_factor: int = 1
    # Address of the /healthz, /readyz and /metrics server.
    health_host: str = "127.0.0.1"
    health_port: int = 9400
    log_level: str = "INFO"
    # The event loop: uvloop when installed ("auto"), or "uvloop" / "asyncio" explicitly.
    event_loop: EventLoopChoice = "auto"
    # The garbage collector's youngest-generation threshold (Python's default: 700), for the
    # services that tune it at start-up (runtime.py).
    gc_gen0_threshold: int = Field(default=20_000, ge=1)
    # How long SIGTERM waits for in-flight work before cancelling it.
    shutdown_grace_s: float = 20.0
    # Start-up retries for Kafka and other dependencies.
    connect_attempts: int = 30
    connect_retry_delay_s: float = 1.0
