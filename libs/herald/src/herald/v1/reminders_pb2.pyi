import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from herald.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReminderScheduled(_message.Message):
    __slots__ = ("event_id", "occurred_at", "reminder_id", "user_id", "content", "fire_at", "time_zone", "rrule", "expires_at", "occurrence_ttl_s", "collapse_key", "urgency", "retry")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    REMINDER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FIRE_AT_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    RRULE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    OCCURRENCE_TTL_S_FIELD_NUMBER: _ClassVar[int]
    COLLAPSE_KEY_FIELD_NUMBER: _ClassVar[int]
    URGENCY_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    occurred_at: _timestamp_pb2.Timestamp
    reminder_id: str
    user_id: str
    content: _common_pb2.NotificationContent
    fire_at: _timestamp_pb2.Timestamp
    time_zone: str
    rrule: str
    expires_at: _timestamp_pb2.Timestamp
    occurrence_ttl_s: int
    collapse_key: str
    urgency: _common_pb2.Urgency
    retry: DeliveryRetry
    def __init__(self, event_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reminder_id: _Optional[str] = ..., user_id: _Optional[str] = ..., content: _Optional[_Union[_common_pb2.NotificationContent, _Mapping]] = ..., fire_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., time_zone: _Optional[str] = ..., rrule: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., occurrence_ttl_s: _Optional[int] = ..., collapse_key: _Optional[str] = ..., urgency: _Optional[_Union[_common_pb2.Urgency, str]] = ..., retry: _Optional[_Union[DeliveryRetry, _Mapping]] = ...) -> None: ...

class DeliveryRetry(_message.Message):
    __slots__ = ("notification_id", "occurrence_at", "attempts", "targets")
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRENCE_AT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    notification_id: str
    occurrence_at: _timestamp_pb2.Timestamp
    attempts: int
    targets: _containers.RepeatedCompositeFieldContainer[_common_pb2.Target]
    def __init__(self, notification_id: _Optional[str] = ..., occurrence_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attempts: _Optional[int] = ..., targets: _Optional[_Iterable[_Union[_common_pb2.Target, _Mapping]]] = ...) -> None: ...
