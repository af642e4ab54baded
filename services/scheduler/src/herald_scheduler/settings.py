"""The scheduler's settings, read from ``HERALD_*`` environment variables."""

from __future__ import annotations

from pydantic import Field, SecretStr

from herald.settings import HeraldSettings


class SchedulerSettings(HeraldSettings):
    # Redis holding the shards' index (a URL; may carry a password, so it never prints).
    redis_url: SecretStr = SecretStr("redis://127.0.0.1:63790/0")
    health_port: int = Field(default=9401, ge=0, le=65535)
    # Consumer group, prefixed with the topic namespace (environments sharing Kafka stay apart).
    group_id: str = "herald-scheduler"
    # A reminder whose fire time lies further ahead than this after its record is refused.
    horizon_days: int = Field(default=400, ge=1)
    # How long a taken reminder may stay unacknowledged before it goes back to due.
    lease_ms: int = Field(default=30_000, ge=100)
    # Reminders taken from a shard in one atomic step.
    release_batch: int = Field(default=500, ge=1, le=2000)
    # Batches of one shard that may be publishing at the same time.
    release_concurrency: int = Field(default=4, ge=1, le=64)
    # Shortest pause between two takes of one shard (unless the last take was full); busy shards
    # wake together on a grid of this step. Under load more due reminders share a batch and
    # the shards share round trips, for at most this much extra lateness.
    release_interval_ms: int = Field(default=5, ge=0)
    # Longest sleep of an idle shard between checks that its Redis state is intact.
    idle_check_ms: int = Field(default=1000, ge=10)
    # When a recurring reminder is (re)armed without progress in Redis, occurrences older than
    # this are skipped (the reminder's occurrence_ttl_s takes precedence when it is set).
    recurring_catchup_s: int = Field(default=3600, ge=0)
    # Publish a DeliveryReport (status EXPIRED) for each occurrence that expired before release.
    report_expired: bool = True
    # Records the intake consumer takes per fetch, across partitions (partitions run in parallel).
    intake_max_records: int = Field(default=5000, ge=1)
    # Kafka group session; a killed instance's shards move after this long.
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1000)
    kafka_linger_ms: int = Field(default=2, ge=0)

    @property
    def consumer_group(self) -> str:
        return self.topic_namespace + self.group_id
