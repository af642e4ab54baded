"""What an FCM answer means for Herald, per FCM's documented error handling."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from herald.v1 import deliveries_pb2, tokens_pb2
from herald_dispatcher.fcm import TRANSPORT, FcmResponse


class Verdict(enum.Enum):
    # FCM accepted the message.
    SENT = "sent"
    # The target is dead or foreign: emit TokenInvalidated, never retry.
    INVALID_TARGET = "invalid_target"
    # UNAVAILABLE, INTERNAL, no answer: exponential backoff with jitter, Retry-After honoured.
    RETRY = "retry"
    # QUOTA_EXCEEDED: back off for Retry-After, else at least a minute.
    QUOTA = "quota"
    # Herald's or the web push / APNs credentials are wrong: alert, no retry.
    AUTH = "auth"
    # FCM refuses the message itself: no retry, dead-lettered.
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Classified:
    verdict: Verdict
    code: deliveries_pb2.FcmErrorCode
    invalidation: tokens_pb2.InvalidationReason = tokens_pb2.INVALIDATION_REASON_UNSPECIFIED


_CODES: dict[str, deliveries_pb2.FcmErrorCode] = {
    "UNREGISTERED": deliveries_pb2.FCM_ERROR_CODE_UNREGISTERED,
    "NOT_FOUND": deliveries_pb2.FCM_ERROR_CODE_UNREGISTERED,
    "INVALID_ARGUMENT": deliveries_pb2.FCM_ERROR_CODE_INVALID_ARGUMENT,
    "SENDER_ID_MISMATCH": deliveries_pb2.FCM_ERROR_CODE_SENDER_ID_MISMATCH,
    "QUOTA_EXCEEDED": deliveries_pb2.FCM_ERROR_CODE_QUOTA_EXCEEDED,
    "RESOURCE_EXHAUSTED": deliveries_pb2.FCM_ERROR_CODE_QUOTA_EXCEEDED,
    "UNAVAILABLE": deliveries_pb2.FCM_ERROR_CODE_UNAVAILABLE,
    "INTERNAL": deliveries_pb2.FCM_ERROR_CODE_INTERNAL,
    "THIRD_PARTY_AUTH_ERROR": deliveries_pb2.FCM_ERROR_CODE_THIRD_PARTY_AUTH_ERROR,
    "APNS_AUTH_ERROR": deliveries_pb2.FCM_ERROR_CODE_THIRD_PARTY_AUTH_ERROR,
    "UNAUTHENTICATED": deliveries_pb2.FCM_ERROR_CODE_UNAUTHENTICATED,
    "PERMISSION_DENIED": deliveries_pb2.FCM_ERROR_CODE_PERMISSION_DENIED,
}
_INVALIDATIONS: dict[str, tokens_pb2.InvalidationReason] = {
    "UNREGISTERED": tokens_pb2.INVALIDATION_REASON_UNREGISTERED,
    "SENDER_ID_MISMATCH": tokens_pb2.INVALIDATION_REASON_SENDER_ID_MISMATCH,
    "INVALID_ARGUMENT": tokens_pb2.INVALIDATION_REASON_INVALID_ARGUMENT,
}


def classify(response: FcmResponse) -> Classified:
    if response.accepted:
        return Classified(Verdict.SENT, deliveries_pb2.FCM_ERROR_CODE_UNSPECIFIED)
    name = response.error_code
    code = _CODES.get(name, deliveries_pb2.FCM_ERROR_CODE_UNSPECIFIED)
    status = response.http_status
    if name == "UNREGISTERED" or (name == "SENDER_ID_MISMATCH" and response.fcm_error):
        return Classified(Verdict.INVALID_TARGET, code, _INVALIDATIONS[name])
    if name == "INVALID_ARGUMENT":
        if response.about_target:
            return Classified(Verdict.INVALID_TARGET, code, _INVALIDATIONS[name])
        return Classified(Verdict.REJECTED, code)
    if name in ("QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED") or status == 429:
        return Classified(Verdict.QUOTA, deliveries_pb2.FCM_ERROR_CODE_QUOTA_EXCEEDED)
    if name in ("THIRD_PARTY_AUTH_ERROR", "APNS_AUTH_ERROR") or status in (401, 403):
        return Classified(Verdict.AUTH, code)
    if name in ("UNAVAILABLE", "INTERNAL", TRANSPORT) or status >= 500 or status == 0:
        return Classified(Verdict.RETRY, code)
    return Classified(Verdict.REJECTED, code)
