"""Property tests of what the token-api decodes from callers: request bodies and credentials.
Any input is either decoded or refused with the documented 4xx problem, never an unexpected
exception (a 500); a problem never echoes a target; valid bodies decode to what was sent.

The schemathesis run over the whole OpenAPI document (with a user JWT and a service key, so it
gets past 401) lives in test_openapi.py; this file adds what it cannot reach: bytes that are not
JSON, credentials, and round trips through PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import hypothesis
import jwt
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from pydantic import BaseModel
from token_api.decoding import authenticate, check_refusal, decode, strings_in
from token_api.strategies import (
    VALID,
    b64,
    credentials,
    json_values,
    near_misses,
    register_bodies,
    schedulable_reminders,
    signed,
)
from token_api.support import (
    AS_SERVICE,
    ISSUER,
    SERVICE_KEY,
    Client,
    as_user,
    read_all,
)

from herald import topics
from herald.logs import mask
from herald.v1 import common_pb2, notifications_pb2, reminders_pb2
from herald_token_api import recurrence
from herald_token_api.names import SERVICE_KEY_HEADER
from herald_token_api.problems import Problem
from herald_token_api.recurrence import ALLOWED_PARTS
from herald_token_api.schemas import (
    RRULE_PATTERN,
    NotificationRequest,
    RefreshRequest,
    RegisterRequest,
    ReminderRequest,
)

MODELS: dict[str, type[BaseModel]] = {
    "RegisterRequest": RegisterRequest,
    "RefreshRequest": RefreshRequest,
    "NotificationRequest": NotificationRequest,
    "ReminderRequest": ReminderRequest,
}
BODIES = {name: VALID[name] | json_values | near_misses(model) for name, model in MODELS.items()}
# Shortest target the API accepts is 22 characters (a fid): longer input strings must not come
# back in a problem.
SECRET_MIN_CHARS = 22
BOUNDED = hypothesis.settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


raw_bodies = (
    st.binary(max_size=512)
    | st.text(max_size=200).map(str.encode)
    | json_values.map(lambda v: json.dumps(v).encode())
    # JSON cut short somewhere.
    | st.tuples(json_values.map(lambda v: json.dumps(v).encode()), st.integers(0, 64)).map(
        lambda pair: pair[0][: max(0, len(pair[0]) - pair[1])]
    )
)


@BOUNDED
@given(name=st.sampled_from(sorted(MODELS)), raw=raw_bodies)
async def test_any_bytes_decode_or_get_a_400_or_422_problem(name: str, raw: bytes) -> None:
    result = await decode(raw, MODELS[name])
    hypothesis.event("refused" if isinstance(result, Problem) else "decoded")
    if isinstance(result, Problem):
        check_refusal(result, {(400, "malformed-json"), (422, "invalid-body")}, [])
    else:
        assert isinstance(result, MODELS[name])


@BOUNDED
@given(data=st.data(), name=st.sampled_from(sorted(MODELS)))
async def test_any_json_decodes_to_a_body_that_round_trips_or_gets_a_422_without_the_input(
    data: st.DataObject, name: str
) -> None:
    model = MODELS[name]
    value = data.draw(BODIES[name], label="body")
    result = await decode(json.dumps(value).encode(), model)
    hypothesis.event("refused" if isinstance(result, Problem) else "decoded")
    if isinstance(result, Problem):
        secrets = [s for s in strings_in(value) if len(s) >= SECRET_MIN_CHARS]
        check_refusal(result, {(422, "invalid-body")}, secrets)
    else:
        again = await decode(result.model_dump_json(exclude_unset=True).encode(), model)
        assert again == result


def _instants_parsed(body: dict[str, Any]) -> dict[str, Any]:
    return {
        k: datetime.fromisoformat(v) if k in ("fire_at", "expires_at") else v
        for k, v in body.items()
    }


@BOUNDED
@given(data=st.data(), name=st.sampled_from(sorted(MODELS)))
async def test_valid_bodies_decode_to_exactly_what_was_sent(data: st.DataObject, name: str) -> None:
    body = data.draw(VALID[name], label="body")
    result = await decode(json.dumps(body).encode(), MODELS[name])
    assert not isinstance(result, Problem), result.extra
    assert result.model_dump(exclude_unset=True) == _instants_parsed(body)


@hypothesis.settings(BOUNDED, max_examples=25)
@given(body=register_bodies())
async def test_a_registered_target_is_listed_as_sent_and_only_masked(
    offline_api: Client, body: dict[str, Any]
) -> None:
    value = body.get("token") or body["fid"]
    user = as_user(hashlib.sha256(value.encode()).hexdigest()[:16])
    response = await offline_api.put("/v1/targets", json=body, headers=user)
    assert response.status in (200, 201), await response.text()
    listed = await offline_api.get("/v1/targets", headers=user)
    text = await listed.text()
    assert value not in text
    (target,) = json.loads(text)["targets"]
    assert target["id"] == hashlib.sha256(value.encode()).hexdigest()[:32]
    assert target["masked"] == mask(value, 4)
    assert target["kind"] == ("token" if "token" in body else "fid")
    assert target["platform"] == body.get("platform", "web")
    assert target["device_label"] == body.get("device_label", "")
    assert target["project_id"] == body.get("project_id", "")
    if "user_agent" in body:
        assert target["user_agent"] == body["user_agent"]
    await offline_api.delete("/v1/targets", headers=user)


# While hypothesis runs in its worker thread, the app's Kafka client (aiokafka picks brokers and
# partitions with ``random``) runs on the test's loop; hypothesis takes that for the test using
# the random module and warns.
RANDOM_ELSEWHERE = pytest.mark.filterwarnings(
    "ignore::hypothesis.errors.HypothesisDeprecationWarning"
)


async def send_all(
    api: Client, path: str, bodies: st.SearchStrategy[dict[str, Any]], id_field: str
) -> dict[str, dict[str, Any]]:
    """POST up to 25 drawn bodies as a service (without ``id_field``: one drawn twice would be
    one event), each answered 202; the bodies by the id the API gave them. Hypothesis runs in a
    worker thread, the requests on this loop."""
    loop = asyncio.get_running_loop()
    sent: dict[str, dict[str, Any]] = {}

    @hypothesis.settings(BOUNDED, max_examples=25)
    @given(body=bodies)
    def send(body: dict[str, Any]) -> None:
        body = {k: v for k, v in body.items() if k != id_field}

        async def post() -> tuple[int, Any]:
            response = await api.post(path, json=body, headers=AS_SERVICE)
            return response.status, await response.json()

        status, answer = asyncio.run_coroutine_threadsafe(post(), loop).result(timeout=30)
        assert status == 202, answer
        sent[answer[id_field]] = body

    await asyncio.to_thread(send)
    return sent


def check_content(message: common_pb2.NotificationContent, content: dict[str, Any]) -> None:
    assert message.title == content["title"]
    assert message.body == content.get("body", "")
    assert message.click_link == content.get("click_link", "")
    assert dict(message.data) == content.get("data", {})


@RANDOM_ELSEWHERE
async def test_valid_notifications_are_published_as_sent(
    api: Client, bootstrap: str, namespace: str
) -> None:
    sent = await send_all(api, "/v1/notifications", VALID["NotificationRequest"], "notification_id")
    records = await read_all(bootstrap, namespace, topics.NOTIFICATIONS_DUE)
    messages = (notifications_pb2.NotificationDue.FromString(r.value) for r in records)
    published = {m.notification_id: m for m in messages}
    assert set(published) == set(sent)
    for notification_id, body in sent.items():
        message = published[notification_id]
        assert message.user_id == body["user_id"]
        check_content(message.content, body["content"])
        assert message.collapse_key == body.get("collapse_key", "")
        ttl_ms = message.expires_at.ToMilliseconds() - message.occurrence_at.ToMilliseconds()
        assert ttl_ms == body.get("ttl_s", 3600) * 1000


def milliseconds(instant: str) -> int:
    return int(datetime.fromisoformat(instant).timestamp() * 1000)


@RANDOM_ELSEWHERE
async def test_valid_reminders_are_published_as_sent(
    api: Client, bootstrap: str, namespace: str
) -> None:
    """The schemathesis run never gets a reminder accepted (its times are random, the API wants
    them around now): these are."""
    sent = await send_all(api, "/v1/reminders", schedulable_reminders(), "reminder_id")
    records = await read_all(bootstrap, namespace, topics.REMINDERS)
    messages = (reminders_pb2.ReminderScheduled.FromString(r.value) for r in records)
    published = {m.reminder_id: m for m in messages}
    assert set(published) == set(sent)
    for reminder_id, body in sent.items():
        message = published[reminder_id]
        assert message.user_id == body["user_id"]
        check_content(message.content, body["content"])
        assert message.fire_at.ToMilliseconds() == milliseconds(body["fire_at"])
        assert message.expires_at.ToMilliseconds() == milliseconds(body["expires_at"])
        assert message.time_zone == body.get("time_zone", "UTC")
        assert message.rrule == body.get("rrule", "")
        assert message.occurrence_ttl_s == body.get("occurrence_ttl_s", 0)


DEEP = b64(b"[" * 3000 + b"]" * 3000)
LIST_ALG = signed({"alg": ["HS256"]}, {}, None)


@BOUNDED
# Both were a 500 (fixed in auth.py).
@hypothesis.example(headers={"Authorization": f"Bearer {DEEP}.e30.x"}, service=False)
@hypothesis.example(headers={"Authorization": f"Bearer {LIST_ALG}"}, service=False)
@given(headers=credentials, service=st.booleans())
async def test_any_credential_is_accepted_or_a_401_or_403_problem(
    headers: dict[str, str], service: bool
) -> None:
    result = await authenticate(headers, service=service)
    hypothesis.event("refused" if isinstance(result, Problem) else "accepted")
    if isinstance(result, Problem):
        allowed = (
            {(401, "unauthorized"), (403, "forbidden")} if service else {(401, "unauthorized")}
        )
        check_refusal(result, allowed, [])
        return
    if SERVICE_KEY_HEADER in headers:
        assert service
        assert headers[SERVICE_KEY_HEADER] == SERVICE_KEY
        return
    claims = jwt.decode(
        headers["Authorization"].removeprefix("Bearer "), options={"verify_signature": False}
    )
    assert claims["sub"] == result
    assert claims["iss"] == ISSUER


rrule_parts = st.tuples(
    st.sampled_from([*sorted(ALLOWED_PARTS), "BYSETPOS"]),
    st.from_regex(r"[A-Z0-9,+\-]{1,14}", fullmatch=True)
    | st.sampled_from(["DAILY", "MONTHLY", "1MO,-1FR", "-1", "20301231T000000Z", "366", "53MO"]),
).map("=".join)
rrules = st.lists(rrule_parts, min_size=1, max_size=5).map(lambda ps: ";".join(["FREQ=DAILY", *ps]))


@BOUNDED
@given(
    rule=rrules | st.from_regex(RRULE_PATTERN, fullmatch=True),
    time_zone=st.sampled_from(["UTC", "Pacific/Kiritimati"]),
)
def test_any_rrule_is_accepted_or_refused_with_a_reason(rule: str, time_zone: str) -> None:
    """The RRULE checker runs dateutil on what it lets through: anything dateutil raises must
    come out as the ValueError that becomes a 422."""
    try:
        recurrence.check_rrule(rule, datetime(2030, 1, 1, tzinfo=UTC), time_zone)
    except ValueError as exc:
        reason = str(exc)
    else:
        reason = "accepted"
    assert reason, "a refusal says why (it is the 422's message)"
