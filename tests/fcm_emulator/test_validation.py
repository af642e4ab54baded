"""Messages FCM refuses, sent as plain HTTP since firebase-admin refuses most of them itself."""

from __future__ import annotations

from typing import Any

import pytest

from fcm_emulator.client import EmulatorClient
from fcm_emulator.errors import FCM_ERROR_TYPE
from fcm_emulator.testing import HttpSender

TOKEN = "cAbCdEfGhIjKlMnOpQrStU:APA91bSyntheticTargetForValidationTests"


def fcm_error_code(body: dict[str, Any]) -> str | None:
    for detail in body["error"].get("details", []):
        if detail.get("@type") == FCM_ERROR_TYPE:
            return str(detail["errorCode"])
    return None


async def assert_invalid(raw: HttpSender, message: dict[str, Any], expected: str) -> str:
    status, body, _ = await raw.send(message)
    assert status == 400, body
    assert body["error"]["status"] == "INVALID_ARGUMENT"
    assert body["error"]["code"] == 400
    assert fcm_error_code(body) == "INVALID_ARGUMENT"
    assert expected in body["error"]["message"]
    return str(body["error"]["message"])


async def test_payload_over_4096_bytes_is_refused_and_at_the_limit_is_accepted(
    raw: HttpSender,
) -> None:
    envelope = len('{"data":{"k":""}}')
    at_limit = {"token": TOKEN, "data": {"k": "x" * (4096 - envelope)}}
    status, body, _ = await raw.send(at_limit)
    assert status == 200, body

    over = {"token": TOKEN, "data": {"k": "x" * (4097 - envelope)}}
    await assert_invalid(raw, over, "Message is too big")


async def test_a_lone_surrogate_in_the_payload_is_refused(raw: HttpSender) -> None:
    await assert_invalid(raw, {"token": TOKEN, "data": {"k": "\ud800"}}, "lone UTF-16 surrogate")


async def test_topic_messages_have_a_2048_byte_limit(raw: HttpSender) -> None:
    data = {"k": "x" * 3000}
    status, _, _ = await raw.send({"token": TOKEN, "data": data})
    assert status == 200
    await assert_invalid(raw, {"topic": "news", "data": data}, "Message is too big")


async def test_two_targets_are_refused(raw: HttpSender) -> None:
    message = await assert_invalid(raw, {"token": TOKEN, "topic": "news"}, "oneof")
    assert message == (
        "Invalid value at 'message' (oneof), oneof field 'target' is already set. "
        "Cannot set 'topic'"
    )


async def test_a_message_without_target_is_refused(raw: HttpSender) -> None:
    await assert_invalid(raw, {"data": {"a": "b"}}, "Recipient of the message is not set.")


async def test_non_string_data_value_is_refused(raw: HttpSender) -> None:
    message = await assert_invalid(raw, {"token": TOKEN, "data": {"a": "1", "b": 7}}, "TYPE_STRING")
    assert message == "Invalid value at 'message.data[1].value' (TYPE_STRING), 7"


@pytest.mark.parametrize("ttl", ["2419201", "-1", "1.5", "soon", "²", "١٢"])
async def test_ttl_out_of_range_is_refused(raw: HttpSender, ttl: str) -> None:
    message = {"token": TOKEN, "webpush": {"headers": {"TTL": ttl}}}
    await assert_invalid(raw, message, "TTL header")


@pytest.mark.parametrize("ttl", ["0", "2419200"])
async def test_ttl_at_the_bounds_is_accepted(raw: HttpSender, ttl: str) -> None:
    status, body, _ = await raw.send({"token": TOKEN, "webpush": {"headers": {"TTL": ttl}}})
    assert status == 200, body


async def test_unknown_urgency_is_refused(raw: HttpSender) -> None:
    message = {"token": TOKEN, "webpush": {"headers": {"Urgency": "urgent"}}}
    await assert_invalid(raw, message, "Urgency")


async def test_http_link_is_refused(raw: HttpSender) -> None:
    message = {"token": TOKEN, "webpush": {"fcm_options": {"link": "http://herald.example/"}}}
    await assert_invalid(raw, message, "HTTPS URL")


async def test_unknown_field_is_refused(raw: HttpSender) -> None:
    message = await assert_invalid(raw, {"token": TOKEN, "priority": "high"}, "Unknown name")
    assert message == (
        "Invalid JSON payload received. Unknown name \"priority\" at 'message': Cannot find field."
    )


async def test_malformed_token_is_refused(raw: HttpSender) -> None:
    await assert_invalid(raw, {"token": "no spaces allowed"}, "not a valid FCM registration")


async def test_validate_only_still_validates(raw: HttpSender, fcm: EmulatorClient) -> None:
    status, _, _ = await raw.send({"token": TOKEN, "data": {"n": 1}}, validate_only=True)
    assert status == 400
    status, body, _ = await raw.send({"token": TOKEN}, validate_only=True)
    assert status == 200
    assert body == {"name": f"projects/{raw.project_id}/messages/fake_message_id"}
    records = await fcm.messages(target=TOKEN)
    assert [(r.status, r.error_code) for r in records] == [(400, "INVALID_ARGUMENT"), (200, None)]
