"""When to try a delivery again, and where: in process, through the scheduler, or not at all."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from herald_dispatcher.settings import DispatcherSettings


class Plan(enum.Enum):
    # Wait here and try again (the batch waits too, so only for short delays).
    IN_PROCESS = "in_process"
    # Hand the notification back to the scheduler for a later attempt.
    SCHEDULE = "schedule"
    # The notification expires before the retry could happen.
    EXPIRE = "expire"
    # Retry budget spent (attempts or age): dead-letter.
    GIVE_UP = "give_up"


@dataclass(frozen=True, slots=True)
class Decision:
    plan: Plan
    delay_s: float


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_delay_s: float
    max_delay_s: float
    quota_delay_s: float
    max_attempts: int
    max_age_ms: int
    inprocess_max_delay_s: float
    inprocess_max_retries: int

    @classmethod
    def from_settings(cls, settings: DispatcherSettings) -> RetryPolicy:
        return cls(
            base_delay_s=settings.retry_base_delay_s,
            max_delay_s=settings.retry_max_delay_s,
            quota_delay_s=settings.quota_retry_delay_s,
            max_attempts=settings.max_attempts,
            max_age_ms=int(settings.max_retry_age_s * 1000),
            inprocess_max_delay_s=settings.inprocess_retry_max_delay_s,
            inprocess_max_retries=settings.inprocess_max_retries,
        )

    def delay_s(self, attempts: int, retry_after_s: float | None, *, quota: bool) -> float:
        """Exponential backoff with jitter after ``attempts`` attempts; Retry-After wins when
        it asks for longer, and QUOTA_EXCEEDED without one waits at least ``quota_delay_s``."""
        backoff = min(self.max_delay_s, self.base_delay_s * 2 ** max(0, attempts - 1))
        jittered = random.uniform(backoff / 2, backoff)
        if retry_after_s is not None:
            # A little jitter on top, so replicas told the same instant do not all come back at it.
            return max(jittered, retry_after_s * random.uniform(1.0, 1.1))
        if quota:
            return max(jittered, self.quota_delay_s)
        return jittered

    def decide(
        self,
        *,
        attempts: int,
        inprocess_retries: int,
        delay_s: float,
        now_ms: int,
        occurrence_ms: int,
        expires_at_ms: int | None,
    ) -> Decision:
        retry_at_ms = now_ms + int(delay_s * 1000)
        if attempts >= self.max_attempts or retry_at_ms > occurrence_ms + self.max_age_ms:
            return Decision(Plan.GIVE_UP, delay_s)
        if expires_at_ms is not None and retry_at_ms >= expires_at_ms:
            return Decision(Plan.EXPIRE, delay_s)
        if delay_s <= self.inprocess_max_delay_s and inprocess_retries < self.inprocess_max_retries:
            return Decision(Plan.IN_PROCESS, delay_s)
        return Decision(Plan.SCHEDULE, delay_s)
