import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from herald.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InvalidationReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INVALIDATION_REASON_UNSPECIFIED: _ClassVar[InvalidationReason]
    INVALIDATION_REASON_UNREGISTERED: _ClassVar[InvalidationReason]
    INVALIDATION_REASON_INVALID_ARGUMENT: _ClassVar[InvalidationReason]
    INVALIDATION_REASON_SENDER_ID_MISMATCH: _ClassVar[InvalidationReason]
INVALIDATION_REASON_UNSPECIFIED: InvalidationReason
INVALIDATION_REASON_UNREGISTERED: InvalidationReason
INVALIDATION_REASON_INVALID_ARGUMENT: InvalidationReason
INVALIDATION_REASON_SENDER_ID_MISMATCH: InvalidationReason

class TokenEntry(_message.Message):
    __slots__ = ("target", "platform", "device_label", "created_at", "last_seen_at")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    DEVICE_LABEL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    target: _common_pb2.Target
    platform: _common_pb2.Platform
    device_label: str
    created_at: _timestamp_pb2.Timestamp
    last_seen_at: _timestamp_pb2.Timestamp
    def __init__(self, target: _Optional[_Union[_common_pb2.Target, _Mapping]] = ..., platform: _Optional[_Union[_common_pb2.Platform, str]] = ..., device_label: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TokenSet(_message.Message):
    __slots__ = ("event_id", "occurred_at", "user_id", "tokens", "version")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    occurred_at: _timestamp_pb2.Timestamp
    user_id: str
    tokens: _containers.RepeatedCompositeFieldContainer[TokenEntry]
    version: int
    def __init__(self, event_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., user_id: _Optional[str] = ..., tokens: _Optional[_Iterable[_Union[TokenEntry, _Mapping]]] = ..., version: _Optional[int] = ...) -> None: ...

class TokenInvalidated(_message.Message):
    __slots__ = ("event_id", "occurred_at", "user_id", "target", "reason", "observed_at", "detail")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    occurred_at: _timestamp_pb2.Timestamp
    user_id: str
    target: _common_pb2.Target
    reason: InvalidationReason
    observed_at: _timestamp_pb2.Timestamp
    detail: str
    def __init__(self, event_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., user_id: _Optional[str] = ..., target: _Optional[_Union[_common_pb2.Target, _Mapping]] = ..., reason: _Optional[_Union[InvalidationReason, str]] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., detail: _Optional[str] = ...) -> None: ...
