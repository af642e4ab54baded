"""Verified bearer tokens remembered by their raw text, so a caller presenting the same token
again (each request of a page load, a service sending many notifications) skips the signature
and claim checks, a sizeable part of a request's CPU.

Bounded in count (least recently used go first). An entry is honoured only until the token's own
``exp`` plus the leeway verification allows, and never longer than ``max_age_s``, so a key taken
out of the JWKS stops being honoured soon after. Only successes are remembered; tokens are kept
as SHA-256 digests, not in clear."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Generic, TypeVar

T = TypeVar("T")


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class VerifiedTokens(Generic[T]):
    def __init__(self, max_entries: int, max_age_s: float) -> None:
        self._max_entries = max_entries
        self._max_age_s = max_age_s
        self._entries: OrderedDict[bytes, tuple[float, T]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str, now_s: float) -> T | None:
        """What verifying ``token`` gave, if it was verified recently and is still valid at
        ``now_s`` (seconds since the epoch)."""
        if self._max_entries == 0:
            return None
        key = _digest(token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        valid_until_s, value = entry
        if now_s >= valid_until_s:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, token: str, value: T, expires_at_s: float, now_s: float) -> None:
        """Remember ``value`` for ``token``, valid until ``expires_at_s`` at the latest."""
        if self._max_entries == 0:
            return
        valid_until_s = min(expires_at_s, now_s + self._max_age_s)
        if valid_until_s <= now_s:
            return
        key = _digest(token)
        self._entries[key] = (valid_until_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
