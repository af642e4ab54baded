"""A trace id carried from service to service in a Kafka header."""

from __future__ import annotations

import contextvars
import os

_trace_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "herald_trace_id", default=None
)


def new_trace_id() -> str:
    """32 random hex digits (uuid4().hex without building a UUID: 0.7 against 3.5 µs, paid by
    every API request and delivery report without a trace id)."""
    return os.urandom(16).hex()


def current_trace_id() -> str | None:
    return _trace_id.get()


def set_trace_id(trace_id: str | None) -> contextvars.Token[str | None]:
    return _trace_id.set(trace_id)


def reset_trace_id(token: contextvars.Token[str | None]) -> None:
    _trace_id.reset(token)
