"""Every table, channel, lock, consumer group and HTTP header name the token-api uses, declared
once (the SQL in ``migrations/`` spells the same table and channel names)."""

from __future__ import annotations

TOKENS_TABLE = "push_tokens"
OUTBOX_TABLE = "token_outbox"
# One row: whether the relay is idle, so that writers wake it with a NOTIFY.
RELAY_STATE_TABLE = "token_outbox_relay"
MIGRATIONS_TABLE = "token_api_migrations"
# pg_notify channel the outbox writes wake the relay on.
OUTBOX_CHANNEL = "token_outbox"
# Session advisory locks (single bigint keys): one migrator, one relay at a time.
MIGRATION_LOCK = 1752457833_0001
RELAY_LOCK = 1752457833_0002
# Consumer group of the invalidation consumer (prefixed by the topic namespace).
CONSUMER_GROUP = "herald-token-api"
CLIENT_ID = "herald-token-api"

# HTTP headers.
SERVICE_KEY_HEADER = "X-Herald-Service-Key"
TRACE_ID_HEADER = "Herald-Trace-Id"
PROBLEM_CONTENT_TYPE = "application/problem+json"
