"""Protobuf encoding with the message type carried in a header."""

from __future__ import annotations

from google.protobuf.message import DecodeError, Message

from herald.topics import ALL_TOPICS

MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.DESCRIPTOR.full_name: cls for topic in ALL_TOPICS for cls in topic.message_types
}


class InvalidRecord(Exception):
    """A record that can never be processed: it goes to the dead-letter topic with ``reason``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def type_name(message: Message) -> str:
    return message.DESCRIPTOR.full_name


def encode(message: Message) -> bytes:
    return message.SerializeToString()


def decode(name: str | None, value: bytes, accepts: frozenset[str] | None = None) -> Message:
    """Decode ``value`` as the message type ``name``; raise InvalidRecord when impossible."""
    if not name:
        raise InvalidRecord("missing-type", "record has no type header")
    cls = MESSAGE_TYPES.get(name)
    if cls is None or (accepts is not None and name not in accepts):
        raise InvalidRecord("unknown-type", f"message type {name!r} is not accepted here")
    message = cls()
    try:
        message.ParseFromString(value)
    except DecodeError as exc:
        raise InvalidRecord("undecodable", f"{name}: {exc}") from exc
    return message
