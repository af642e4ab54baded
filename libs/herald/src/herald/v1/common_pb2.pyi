from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TargetKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TARGET_KIND_UNSPECIFIED: _ClassVar[TargetKind]
    TARGET_KIND_TOKEN: _ClassVar[TargetKind]
    TARGET_KIND_FID: _ClassVar[TargetKind]

class Platform(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLATFORM_UNSPECIFIED: _ClassVar[Platform]
    PLATFORM_WEB: _ClassVar[Platform]
    PLATFORM_ANDROID: _ClassVar[Platform]
    PLATFORM_IOS: _ClassVar[Platform]

class Urgency(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    URGENCY_UNSPECIFIED: _ClassVar[Urgency]
    URGENCY_VERY_LOW: _ClassVar[Urgency]
    URGENCY_LOW: _ClassVar[Urgency]
    URGENCY_NORMAL: _ClassVar[Urgency]
    URGENCY_HIGH: _ClassVar[Urgency]
TARGET_KIND_UNSPECIFIED: TargetKind
TARGET_KIND_TOKEN: TargetKind
TARGET_KIND_FID: TargetKind
PLATFORM_UNSPECIFIED: Platform
PLATFORM_WEB: Platform
PLATFORM_ANDROID: Platform
PLATFORM_IOS: Platform
URGENCY_UNSPECIFIED: Urgency
URGENCY_VERY_LOW: Urgency
URGENCY_LOW: Urgency
URGENCY_NORMAL: Urgency
URGENCY_HIGH: Urgency

class Target(_message.Message):
    __slots__ = ("kind", "value", "project_id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    kind: TargetKind
    value: str
    project_id: str
    def __init__(self, kind: _Optional[_Union[TargetKind, str]] = ..., value: _Optional[str] = ..., project_id: _Optional[str] = ...) -> None: ...

class NotificationContent(_message.Message):
    __slots__ = ("title", "body", "icon", "click_link", "data", "image")
    class DataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    CLICK_LINK_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    title: str
    body: str
    icon: str
    click_link: str
    data: _containers.ScalarMap[str, str]
    image: str
    def __init__(self, title: _Optional[str] = ..., body: _Optional[str] = ..., icon: _Optional[str] = ..., click_link: _Optional[str] = ..., data: _Optional[_Mapping[str, str]] = ..., image: _Optional[str] = ...) -> None: ...
