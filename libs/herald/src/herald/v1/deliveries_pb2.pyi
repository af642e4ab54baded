import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from herald.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeliveryStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DELIVERY_STATUS_UNSPECIFIED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_SENT: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_INVALID_TARGET: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_EXPIRED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_RETRY_SCHEDULED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_DEAD_LETTERED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_NO_TARGETS: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_AUTH_ERROR: _ClassVar[DeliveryStatus]

class FcmErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FCM_ERROR_CODE_UNSPECIFIED: _ClassVar[FcmErrorCode]
    FCM_ERROR_CODE_UNREGISTERED: _ClassVar[FcmErrorCode]
    FCM_ERROR_CODE_INVALID_ARGUMENT: _ClassVar[FcmErrorCode]
    FCM_ERROR_CODE_SENDER_ID_MISMATCH: _ClassVar[FcmErrorCode]
    FCM_ERROR_CODE_QUOTA_EXCEEDED: _ClassVar[FcmErrorCode]
    FCM_ERROR_CODE_UNAVAILABLE: _ClassVar[FcmErrorCode]
    FCM_ERROR_CODE_INTERNAL: _ClassVar[FcmErrorCode]
    FCM_ERROR_CODE_THIRD_PARTY_AUTH_ERROR: _ClassVar[FcmErrorCode]
    FCM_ERROR_CODE_UNAUTHENTICATED: _ClassVar[FcmErrorCode]
    FCM_ERROR_CODE_PERMISSION_DENIED: _ClassVar[FcmErrorCode]
DELIVERY_STATUS_UNSPECIFIED: DeliveryStatus
DELIVERY_STATUS_SENT: DeliveryStatus
DELIVERY_STATUS_INVALID_TARGET: DeliveryStatus
DELIVERY_STATUS_EXPIRED: DeliveryStatus
DELIVERY_STATUS_RETRY_SCHEDULED: DeliveryStatus
DELIVERY_STATUS_DEAD_LETTERED: DeliveryStatus
DELIVERY_STATUS_NO_TARGETS: DeliveryStatus
DELIVERY_STATUS_AUTH_ERROR: DeliveryStatus
FCM_ERROR_CODE_UNSPECIFIED: FcmErrorCode
FCM_ERROR_CODE_UNREGISTERED: FcmErrorCode
FCM_ERROR_CODE_INVALID_ARGUMENT: FcmErrorCode
FCM_ERROR_CODE_SENDER_ID_MISMATCH: FcmErrorCode
FCM_ERROR_CODE_QUOTA_EXCEEDED: FcmErrorCode
FCM_ERROR_CODE_UNAVAILABLE: FcmErrorCode
FCM_ERROR_CODE_INTERNAL: FcmErrorCode
FCM_ERROR_CODE_THIRD_PARTY_AUTH_ERROR: FcmErrorCode
FCM_ERROR_CODE_UNAUTHENTICATED: FcmErrorCode
FCM_ERROR_CODE_PERMISSION_DENIED: FcmErrorCode

class DeliveryReport(_message.Message):
    __slots__ = ("event_id", "occurred_at", "notification_id", "occurrence_at", "user_id", "target", "status", "fcm_message_name", "error_code", "error_message", "attempts", "latency_ms")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRENCE_AT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FCM_MESSAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    occurred_at: _timestamp_pb2.Timestamp
    notification_id: str
    occurrence_at: _timestamp_pb2.Timestamp
    user_id: str
    target: _common_pb2.Target
    status: DeliveryStatus
    fcm_message_name: str
    error_code: FcmErrorCode
    error_message: str
    attempts: int
    latency_ms: int
    def __init__(self, event_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., notification_id: _Optional[str] = ..., occurrence_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., user_id: _Optional[str] = ..., target: _Optional[_Union[_common_pb2.Target, _Mapping]] = ..., status: _Optional[_Union[DeliveryStatus, str]] = ..., fcm_message_name: _Optional[str] = ..., error_code: _Optional[_Union[FcmErrorCode, str]] = ..., error_message: _Optional[str] = ..., attempts: _Optional[int] = ..., latency_ms: _Optional[int] = ...) -> None: ...
