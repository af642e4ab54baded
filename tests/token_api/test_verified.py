"""Verified tokens remembered by their text: a token accepted once is accepted again without
being verified anew, but never past its expiry, its maximum age, or the bound on entries."""

from __future__ import annotations

import asyncio
import time

from token_api.support import fcm_token, make_settings, running, token

from herald_token_api.db import Pool
from herald_token_api.verified import VerifiedTokens


def test_a_remembered_token_is_returned_until_it_expires() -> None:
    tokens: VerifiedTokens[str] = VerifiedTokens(max_entries=10, max_age_s=60)
    tokens.put("token-a", "alice", expires_at_s=1_010, now_s=1_000)
    assert tokens.get("token-a", now_s=1_009.9) == "alice"
    assert tokens.get("token-a", now_s=1_010) is None
    assert tokens.get("token-b", now_s=1_000) is None


def test_no_token_is_remembered_longer_than_the_maximum_age() -> None:
    tokens: VerifiedTokens[str] = VerifiedTokens(max_entries=10, max_age_s=5)
    tokens.put("token-a", "alice", expires_at_s=10_000, now_s=1_000)
    assert tokens.get("token-a", now_s=1_004) == "alice"
    assert tokens.get("token-a", now_s=1_005) is None


def test_the_least_recently_used_token_goes_first_beyond_the_bound() -> None:
    tokens: VerifiedTokens[str] = VerifiedTokens(max_entries=2, max_age_s=60)
    tokens.put("token-a", "alice", expires_at_s=2_000, now_s=1_000)
    tokens.put("token-b", "bob", expires_at_s=2_000, now_s=1_000)
    assert tokens.get("token-a", now_s=1_001) == "alice"
    tokens.put("token-c", "carol", expires_at_s=2_000, now_s=1_002)
    assert len(tokens) == 2
    assert tokens.get("token-b", now_s=1_003) is None
    assert tokens.get("token-a", now_s=1_003) == "alice"
    assert tokens.get("token-c", now_s=1_003) == "carol"


def test_a_bound_of_zero_remembers_nothing() -> None:
    tokens: VerifiedTokens[str] = VerifiedTokens(max_entries=0, max_age_s=60)
    tokens.put("token-a", "alice", expires_at_s=2_000, now_s=1_000)
    assert tokens.get("token-a", now_s=1_001) is None
    assert len(tokens) == 0


async def test_a_token_accepted_before_is_refused_once_it_expired(
    database_url: str, pool: Pool
) -> None:
    settings = make_settings(database_url, jwt_leeway_s=0)
    async with running(settings) as client:
        # Whole seconds: exp is an integer, so wait for the next second boundary first.
        await asyncio.sleep(1 - time.time() % 1 + 0.01)
        headers = {"Authorization": f"Bearer {token('alice', expires_in_s=2)}"}
        for _ in range(3):
            response = await client.put(
                "/v1/targets", json={"token": fcm_token(1)}, headers=headers
            )
            assert response.status in (200, 201)
        await asyncio.sleep(2.2)
        response = await client.put("/v1/targets", json={"token": fcm_token(1)}, headers=headers)
        assert response.status == 401
        assert (await response.json())["reason"] == "unauthorized"
