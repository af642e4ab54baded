"""One delivery from its first attempt to a final outcome: expiry, the shared rate limit, the
delivery key, the send, FCM's verdict, and retries short enough to wait for here."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Collection
from typing import Any

from herald.logs import mask
from herald.v1 import deliveries_pb2
from herald_dispatcher import message, metrics
from herald_dispatcher.fcm import FcmRequest, FcmResponse, FcmSender, SendByPassed
from herald_dispatcher.keys import Keys
from herald_dispatcher.ledger import Earlier, Ledger, Pending, Settled
from herald_dispatcher.outcome import Delivery, Outcome
from herald_dispatcher.ratelimit import RateLimiter
from herald_dispatcher.retry import Plan, RetryPolicy
from herald_dispatcher.timing import now_ms, sleep_unless
from herald_dispatcher.verdict import Classified, Verdict, classify

log = logging.getLogger(__name__)

_PENDING_POLL_S = 0.5
# The report's message for a delivery sent again after an interrupted attempt.
RESENT = "resent: an earlier attempt was interrupted"


class HandedBack(Exception):
    """The process is stopping: the delivery had no outcome and its record stays uncommitted."""


class Deliverer:
    def __init__(
        self,
        *,
        sender: FcmSender,
        projects: Collection[str],
        limiter: RateLimiter,
        ledger: Ledger,
        keys: Keys,
        policy: RetryPolicy,
        max_in_flight: int,
        expiry_margin_ms: int = 0,
        stop: asyncio.Event,
    ) -> None:
        self._sender = sender
        self._projects = frozenset(projects)
        self._limiter = limiter
        self._ledger = ledger
        self._keys = keys
        self._policy = policy
        self._slots = asyncio.Semaphore(max_in_flight)
        self._expiry_margin_ms = expiry_margin_ms
        self._stop = stop
        # Requests waiting for FCM's answer; the gauge reads it when scraped (no lock per send).
        self._in_flight = 0
        metrics.IN_FLIGHT.set_function(lambda: self._in_flight)

    async def deliver(
        self,
        delivery: Delivery,
        settling: list[asyncio.Future[Any]],
        *,
        queued: int = 0,
        spare: Callable[[], None] | None = None,
    ) -> Outcome:
        """The final outcome; raises HandedBack when stopping before there is one. The outcome
        is written to the delivery key without waiting: its future joins ``settling``, which
        the caller awaits before committing. ``queued``: deliveries to the same FCM project
        waiting for their turn behind this one (the rate limiter's tokens are asked for them
        too); ``spare`` is called before waiting for a retry or for another attempt's outcome,
        so the caller can put another worker on the deliveries behind this one."""
        notification = delivery.notification
        attempts = notification.due.attempts
        if delivery.project_id not in self._projects:
            return Outcome(
                deliveries_pb2.DELIVERY_STATUS_DEAD_LETTERED,
                attempts,
                error_message=f"no credentials for FCM project {delivery.project_id!r}",
                dead_letter_reason="unknown-fcm-project",
            )
        key = self._keys.delivery(
            notification.notification_id,
            delivery.project_id,
            delivery.target.value,
        )
        # Set once this delivery holds the key: when it ends, the ledger no longer counts the
        # key's pending value as running (a failed batch handled again takes it over at once).
        claimed: list[bool] = []
        try:
            return await self._deliver(delivery, key, settling, queued, spare, claimed)
        finally:
            if claimed:
                self._ledger.finished(key)

    async def _deliver(
        self,
        delivery: Delivery,
        key: str,
        settling: list[asyncio.Future[Any]],
        queued: int,
        spare: Callable[[], None] | None,
        claimed: list[bool],
    ) -> Outcome:
        notification = delivery.notification
        attempts = notification.due.attempts
        retries_here = 0
        resent = False
        while True:
            if notification.expired(now_ms() + self._expiry_margin_ms):
                return _expired(attempts)
            if not await self._limiter.acquire(delivery.project_id, self._stop, queued=queued):
                raise HandedBack
            try:
                request = self._request(delivery)
            except ValueError as exc:
                return Outcome(
                    deliveries_pb2.DELIVERY_STATUS_DEAD_LETTERED,
                    attempts,
                    error_message=str(exc),
                    dead_letter_reason="invalid-message",
                )
            claimed_ms = now_ms()
            # Again: waiting for the limiter can outlast the expiry in a backlog.
            if notification.expired(claimed_ms + self._expiry_margin_ms):
                return _expired(attempts)
            # Claimed before waiting for an in-flight slot: the round trip overlaps the sends
            # ahead, and the request leaves as soon as a slot is free.
            earlier = await self._ledger.claim(key, claimed_ms)
            if isinstance(earlier, Pending) and (
                earlier.lease_until_ms <= claimed_ms or self._ledger.abandoned(key, earlier)
            ):
                # Interrupted before or after its request left: send again, with the same
                # replace tag, so the device shows it once either way.
                earlier = await self._ledger.take_over(key, earlier, claimed_ms)
                resent = earlier is None
            if earlier is None:
                claimed.append(True)
                try:
                    sent = await self._in_turn(key, request)
                except SendByPassed:
                    return _expired(attempts)
                if isinstance(sent, FcmResponse):
                    response = sent
                    attempts += 1
                else:
                    earlier = sent
            if earlier is not None:
                outcome = await self._after_earlier(key, earlier, attempts, spare)
                if outcome is None:
                    continue
                return outcome
            verdict = classify(response)
            outcome = await self._conclude(delivery, key, verdict, response, attempts, settling)
            if outcome is not None:
                if resent:
                    metrics.RESENDS.inc()
                    if outcome.status == deliveries_pb2.DELIVERY_STATUS_SENT:
                        outcome = dataclasses.replace(outcome, error_message=RESENT)
                return outcome
            # The key is released: retry here after a short wait, or hand the delivery on.
            quota = verdict.verdict is Verdict.QUOTA
            delay_s = self._policy.delay_s(attempts, response.retry_after_s, quota=quota)
            if quota:
                await self._limiter.block(delivery.project_id, delay_s)
            now = now_ms()
            decision = self._policy.decide(
                attempts=attempts,
                inprocess_retries=retries_here,
                delay_s=delay_s,
                now_ms=now,
                occurrence_ms=notification.occurrence_ms,
                expires_at_ms=notification.expires_at_ms,
            )
            if decision.plan is Plan.IN_PROCESS:
                metrics.RETRIES.labels("in_process").inc()
                retries_here += 1
                if spare is not None:
                    spare()
                    spare = None
                if await sleep_unless(self._stop, decision.delay_s):
                    raise HandedBack
                continue
            if decision.plan is Plan.SCHEDULE:
                metrics.RETRIES.labels("scheduled").inc()
                retry_at_ms = now + int(decision.delay_s * 1000)
                return _failure(
                    deliveries_pb2.DELIVERY_STATUS_RETRY_SCHEDULED,
                    attempts,
                    verdict,
                    response,
                    retry_at_ms=retry_at_ms,
                )
            if decision.plan is Plan.EXPIRE:
                return _failure(deliveries_pb2.DELIVERY_STATUS_EXPIRED, attempts, verdict, response)
            return _failure(
                deliveries_pb2.DELIVERY_STATUS_DEAD_LETTERED,
                attempts,
                verdict,
                response,
                dead_letter_reason="retry-budget-spent",
            )

    async def _in_turn(self, key: str, request: FcmRequest) -> FcmResponse | Earlier:
        """The request of a claimed delivery, sent once an in-flight slot is free: FCM's
        response, or what the key holds when the claim was lost while waiting. Raises HandedBack
        when stopping and SendByPassed past the send-by time, the key released in both cases."""
        async with self._slots:
            try:
                if self._stop.is_set():
                    raise HandedBack
                earlier = await self._ledger.keep(key, now_ms())
                if earlier is not None:
                    return earlier
                # The sender checks the expiry once more, just before the request leaves: the
                # wait for the slot, a slow or recovering Redis, a token refresh or a new
                # connection can outlast it.
                return await self._send(request)
            except (HandedBack, SendByPassed):
                await self._ledger.release(key)
                raise

    def _request(self, delivery: Delivery) -> FcmRequest:
        target = delivery.target
        shared = message.template(delivery.notification, target.kind, delivery.platform, now_ms())
        expires_at_ms = delivery.notification.expires_at_ms
        return FcmRequest(
            delivery.project_id,
            shared.body(target.value),
            functools.partial(shared.message_for, delivery.notification, target.value),
            None if expires_at_ms is None else expires_at_ms - self._expiry_margin_ms,
        )

    async def _send(self, request: FcmRequest) -> FcmResponse:
        self._in_flight += 1
        started = time.perf_counter()
        try:
            response = await self._sender.send(request)
        finally:
            self._in_flight -= 1
        project = request.project_id
        metrics.fcm_latency(project).observe(time.perf_counter() - started)
        metrics.fcm_requests(project, response.error_code or "OK").inc()
        return response

    async def _conclude(
        self,
        delivery: Delivery,
        key: str,
        classified: Classified,
        response: FcmResponse,
        attempts: int,
        settling: list[asyncio.Future[Any]],
    ) -> Outcome | None:
        """Settle the key with a final outcome, or release it and return None for a retry."""
        verdict = classified.verdict
        if verdict is Verdict.SENT:
            sent = Settled(deliveries_pb2.DELIVERY_STATUS_SENT, response.name)
            settling.append(self._ledger.settle_soon(key, sent))
            return Outcome(deliveries_pb2.DELIVERY_STATUS_SENT, attempts, fcm_name=response.name)
        if verdict is Verdict.INVALID_TARGET:
            settled = Settled(
                deliveries_pb2.DELIVERY_STATUS_INVALID_TARGET,
                error_code=classified.code,
                invalidation=classified.invalidation,
            )
            settling.append(self._ledger.settle_soon(key, settled))
            return _from_settled(settled, attempts, response.message)
        await self._ledger.release(key)
        if verdict is Verdict.AUTH:
            metrics.AUTH_ERRORS.labels(delivery.project_id, response.error_code).inc()
            log.critical(
                "FCM refused the credentials: fix the configuration",
                extra={
                    "project": delivery.project_id,
                    "error_code": response.error_code,
                    "detail": response.message,
                    "target": mask(delivery.target.value),
                },
            )
            return _failure(
                deliveries_pb2.DELIVERY_STATUS_AUTH_ERROR,
                attempts,
                classified,
                response,
                dead_letter_reason="fcm-auth-error",
            )
        if verdict is Verdict.REJECTED:
            return _failure(
                deliveries_pb2.DELIVERY_STATUS_DEAD_LETTERED,
                attempts,
                classified,
                response,
                dead_letter_reason="fcm-rejected",
            )
        return None

    async def _after_earlier(
        self, key: str, earlier: Earlier, attempts: int, spare: Callable[[], None] | None
    ) -> Outcome | None:
        """The outcome an earlier attempt left; None when its key was released or its lease
        ran out meanwhile (the caller claims it again)."""
        while isinstance(earlier, Pending):
            now = now_ms()
            if earlier.lease_until_ms <= now:
                return None
            wait_s = min(_PENDING_POLL_S, (earlier.lease_until_ms - now) / 1000)
            if spare is not None:
                spare()
                spare = None
            if await sleep_unless(self._stop, wait_s):
                raise HandedBack
            found = await self._ledger.peek(key)
            if found is None:
                return None
            earlier = found
        metrics.DUPLICATES.inc()
        return _from_settled(earlier, attempts, "")


def _expired(attempts: int) -> Outcome:
    return Outcome(
        deliveries_pb2.DELIVERY_STATUS_EXPIRED, attempts, error_message="expired before sent"
    )


def _from_settled(settled: Settled, attempts: int, error_message: str) -> Outcome:
    return Outcome(
        settled.status,
        attempts,
        fcm_name=settled.fcm_name,
        error_code=settled.error_code,
        error_message=error_message,
        invalidation=settled.invalidation,
    )


def _failure(
    status: deliveries_pb2.DeliveryStatus,
    attempts: int,
    classified: Classified,
    response: FcmResponse,
    *,
    retry_at_ms: int | None = None,
    dead_letter_reason: str = "",
) -> Outcome:
    return Outcome(
        status,
        attempts,
        error_code=classified.code,
        error_message=response.message,
        retry_at_ms=retry_at_ms,
        dead_letter_reason=dead_letter_reason,
    )
