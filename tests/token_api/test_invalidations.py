"""herald.tokens.invalidated.v1: a target FCM rejected is deleted, unless the browser registered
it again after FCM's answer; the user's new set goes out through the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp
from token_api.support import (
    Client,
    as_user,
    count_targets,
    drained,
    fcm_token,
    latest_sets,
    read_all,
    token_sets,
    until,
)

from herald import topics
from herald.producer import Producer
from herald.v1 import common_pb2, tokens_pb2
from herald_token_api.db import Pool


def invalidated(user: str, target: str, observed_at: datetime) -> tokens_pb2.TokenInvalidated:
    stamp = Timestamp()
    stamp.FromDatetime(observed_at)
    return tokens_pb2.TokenInvalidated(
        event_id=f"ev-{target[-12:]}",
        user_id=user,
        target=common_pb2.Target(kind=common_pb2.TARGET_KIND_TOKEN, value=target),
        reason=tokens_pb2.INVALIDATION_REASON_UNREGISTERED,
        observed_at=stamp,
    )


async def last_seen(pool: Pool, target: str) -> datetime:
    seen: datetime = await pool.fetchval(
        "SELECT last_seen_at FROM push_tokens WHERE target = $1", target
    )
    return seen


async def test_a_target_seen_again_after_the_answer_is_kept_and_a_dead_one_deleted(
    api: Client, pool: Pool, producer: Producer, bootstrap: str, namespace: str
) -> None:
    for n in (1, 2):
        await api.put("/v1/targets", json={"token": fcm_token(n)}, headers=as_user("alice"))
    # FCM answered at t about token 1; the browser registered it again at t + 1 s.
    answered_at = await last_seen(pool, fcm_token(1)) - timedelta(seconds=1)
    await producer.send_and_wait(
        topics.TOKENS_INVALIDATED, "alice", invalidated("alice", fcm_token(1), answered_at)
    )
    # Token 2 was last seen before FCM's answer: it is dead.
    answered_at = await last_seen(pool, fcm_token(2)) + timedelta(seconds=1)
    await producer.send_and_wait(
        topics.TOKENS_INVALIDATED, "alice", invalidated("alice", fcm_token(2), answered_at)
    )

    async def second_is_gone() -> bool:
        return await count_targets(pool) == 1

    await until(second_is_gone)
    assert await pool.fetchval("SELECT target FROM push_tokens") == fcm_token(1)
    await drained(pool)
    latest = latest_sets(await token_sets(bootstrap, namespace))["alice"]
    assert latest is not None
    assert [t.target.value for t in latest.tokens] == [fcm_token(1)]


async def test_an_invalidation_for_another_user_or_an_unknown_target_changes_nothing(
    api: Client, pool: Pool, producer: Producer
) -> None:
    await api.put("/v1/targets", json={"token": fcm_token(1)}, headers=as_user("alice"))
    await api.put("/v1/targets", json={"token": fcm_token(2)}, headers=as_user("alice"))
    later = await last_seen(pool, fcm_token(2)) + timedelta(seconds=1)
    for message in (
        invalidated("bob", fcm_token(1), later),
        invalidated("alice", fcm_token(9), later),
        invalidated("alice", fcm_token(2), later),
    ):
        await producer.send_and_wait(topics.TOKENS_INVALIDATED, message.user_id, message)

    async def last_is_gone() -> bool:
        return await count_targets(pool) == 1

    await until(last_is_gone)
    assert await pool.fetchval("SELECT target FROM push_tokens") == fcm_token(1)


async def test_an_incomplete_invalidation_is_dead_lettered_and_consuming_goes_on(
    api: Client, pool: Pool, producer: Producer, bootstrap: str, namespace: str
) -> None:
    await api.put("/v1/targets", json={"token": fcm_token(1)}, headers=as_user("alice"))
    later = await last_seen(pool, fcm_token(1)) + timedelta(seconds=1)
    incomplete = tokens_pb2.TokenInvalidated(event_id="ev-0", user_id="alice")
    await producer.send_and_wait(topics.TOKENS_INVALIDATED, "alice", incomplete)
    await producer.send_and_wait(
        topics.TOKENS_INVALIDATED, "alice", invalidated("alice", fcm_token(1), later)
    )

    async def deleted() -> bool:
        return await count_targets(pool) == 0

    await until(deleted)
    (dead,) = await read_all(bootstrap, namespace, topics.DLQ)
    reasons = {k: bytes(v) for k, v in dead.headers}
    assert reasons[topics.HEADER_DLQ_REASON] == b"incomplete"
