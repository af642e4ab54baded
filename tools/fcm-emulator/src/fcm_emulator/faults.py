"""Injected faults: error rates per FCM error code, added latency, a per-minute send quota."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from fcm_emulator.errors import FcmError, FcmErrorCode

QUOTA_WINDOW_S = 60.0
DEFAULT_QUOTA_RETRY_AFTER_S = 60


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """`error_rates` maps an FCM error code to the share of sends answered with it (their sum
    at most 1), drawn from a RNG seeded with `seed`. `retry_after_s` is sent with injected
    UNAVAILABLE and QUOTA_EXCEEDED answers (the latter defaults to 60). `quota_per_minute`
    limits sends per project in windows of 60 s starting at the first send of each window."""

    seed: int = 0
    error_rates: dict[FcmErrorCode, float] = field(default_factory=dict)
    retry_after_s: int | None = None
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    quota_per_minute: int | None = None

    def __post_init__(self) -> None:
        if any(not 0.0 <= rate <= 1.0 for rate in self.error_rates.values()):
            raise ValueError("each error rate must be between 0 and 1")
        if sum(self.error_rates.values()) > 1.0 + 1e-9:
            raise ValueError("error rates must add up to at most 1")
        if self.latency_ms < 0 or self.jitter_ms < 0:
            raise ValueError("latency_ms and jitter_ms must not be negative")
        if self.quota_per_minute is not None and self.quota_per_minute < 0:
            raise ValueError("quota_per_minute must not be negative")
        if self.retry_after_s is not None and self.retry_after_s < 0:
            raise ValueError("retry_after_s must not be negative")

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "error_rates": {code.value: rate for code, rate in self.error_rates.items()},
            "retry_after_s": self.retry_after_s,
            "latency_ms": self.latency_ms,
            "jitter_ms": self.jitter_ms,
            "quota_per_minute": self.quota_per_minute,
        }

    @classmethod
    def from_json(cls, obj: Any) -> FaultConfig:
        """Raise ValueError (or KeyError, TypeError) for a document that is not a config."""
        if not isinstance(obj, dict):
            raise ValueError("the fault configuration must be a JSON object")
        unknown = set(obj) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        rates = obj.get("error_rates") or {}
        if not isinstance(rates, dict):
            raise ValueError("error_rates must map FCM error codes to rates")
        quota = obj.get("quota_per_minute")
        retry_after = obj.get("retry_after_s")
        return cls(
            seed=int(obj.get("seed", 0)),
            error_rates={FcmErrorCode(code): float(rate) for code, rate in rates.items()},
            retry_after_s=None if retry_after is None else int(retry_after),
            latency_ms=float(obj.get("latency_ms", 0.0)),
            jitter_ms=float(obj.get("jitter_ms", 0.0)),
            quota_per_minute=None if quota is None else int(quota),
        )


@dataclass(slots=True)
class _Window:
    started_at: float
    count: int


class FaultInjector:
    def __init__(self) -> None:
        self.configure(FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self._errors = random.Random(config.seed)
        self._jitter = random.Random(config.seed + 1)
        self._windows: dict[str, _Window] = {}
        cumulative = 0.0
        self._thresholds: list[tuple[float, FcmErrorCode]] = []
        for code, rate in config.error_rates.items():
            if rate > 0:
                cumulative += rate
                self._thresholds.append((cumulative, code))

    def delay_s(self) -> float:
        config = self.config
        if not config.latency_ms and not config.jitter_ms:
            return 0.0
        return (config.latency_ms + self._jitter.uniform(0.0, config.jitter_ms)) / 1000.0

    def check_quota(self, project_id: str, now: float) -> None:
        limit = self.config.quota_per_minute
        if limit is None:
            return
        window = self._windows.get(project_id)
        if window is None or now - window.started_at >= QUOTA_WINDOW_S:
            window = self._windows[project_id] = _Window(now, 0)
        window.count += 1
        if window.count > limit:
            wait_s = max(1, math.ceil(window.started_at + QUOTA_WINDOW_S - now))
            raise FcmError(FcmErrorCode.QUOTA_EXCEEDED, retry_after_s=wait_s)

    def check_injected(self) -> None:
        if not self._thresholds:
            return
        draw = self._errors.random()
        for threshold, code in self._thresholds:
            if draw < threshold:
                retry_after = self.config.retry_after_s
                if code is FcmErrorCode.QUOTA_EXCEEDED:
                    retry_after = (
                        retry_after if retry_after is not None else DEFAULT_QUOTA_RETRY_AFTER_S
                    )
                elif code is not FcmErrorCode.UNAVAILABLE:
                    retry_after = None
                raise FcmError(code, retry_after_s=retry_after)
