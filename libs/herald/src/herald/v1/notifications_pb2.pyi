import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from herald.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NotificationDue(_message.Message):
    __slots__ = ("event_id", "occurred_at", "notification_id", "reminder_id", "occurrence_at", "user_id", "content", "expires_at", "collapse_key", "urgency", "attempts", "targets")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    REMINDER_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRENCE_AT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    COLLAPSE_KEY_FIELD_NUMBER: _ClassVar[int]
    URGENCY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    occurred_at: _timestamp_pb2.Timestamp
    notification_id: str
    reminder_id: str
    occurrence_at: _timestamp_pb2.Timestamp
    user_id: str
    content: _common_pb2.NotificationContent
    expires_at: _timestamp_pb2.Timestamp
    collapse_key: str
    urgency: _common_pb2.Urgency
    attempts: int
    targets: _containers.RepeatedCompositeFieldContainer[_common_pb2.Target]
    def __init__(self, event_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., notification_id: _Optional[str] = ..., reminder_id: _Optional[str] = ..., occurrence_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., user_id: _Optional[str] = ..., content: _Optional[_Union[_common_pb2.NotificationContent, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., collapse_key: _Optional[str] = ..., urgency: _Optional[_Union[_common_pb2.Urgency, str]] = ..., attempts: _Optional[int] = ..., targets: _Optional[_Iterable[_Union[_common_pb2.Target, _Mapping]]] = ...) -> None: ...
