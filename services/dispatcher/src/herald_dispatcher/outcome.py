"""One delivery (a notification to one target) and its final outcome."""

from __future__ import annotations

from dataclasses import dataclass

from herald.v1 import common_pb2, deliveries_pb2, tokens_pb2
from herald_dispatcher.notification import Notification


@dataclass(frozen=True, slots=True)
class Delivery:
    notification: Notification
    target: common_pb2.Target
    platform: common_pb2.Platform
    # The FCM project the target belongs to (the default one when the target names none).
    project_id: str


@dataclass(frozen=True, slots=True)
class Outcome:
    status: deliveries_pb2.DeliveryStatus
    # Attempts made so far, this one included.
    attempts: int
    fcm_name: str = ""
    error_code: deliveries_pb2.FcmErrorCode = deliveries_pb2.FCM_ERROR_CODE_UNSPECIFIED
    error_message: str = ""
    # Set when FCM rejected the target for good: a TokenInvalidated goes out.
    invalidation: tokens_pb2.InvalidationReason = tokens_pb2.INVALIDATION_REASON_UNSPECIFIED
    # RETRY_SCHEDULED: when the scheduler should release the notification again.
    retry_at_ms: int | None = None
    # Set when the delivery goes to the dead-letter topic, with this reason.
    dead_letter_reason: str = ""
