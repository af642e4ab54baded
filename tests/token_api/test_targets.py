"""The storage rules of the user endpoints, checked through the API and the tables."""

from __future__ import annotations

import json
from typing import Any

from token_api.support import Client, as_user, fcm_token, make_settings, running

from herald_token_api.db import Pool

FID = "fAbCdEfGhIjKlMnOpQrStU"


async def outbox(pool: Pool) -> list[tuple[str, list[str]]]:
    """Each outbox row as (user, the target values of its set), oldest first."""
    rows = await pool.fetch("SELECT user_id, targets::text FROM token_outbox ORDER BY id")
    return [(r["user_id"], [t["value"] for t in json.loads(r["targets"])]) for r in rows]


async def register(client: Client, user: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = await client.put("/v1/targets", json=body, headers=as_user(user))
    return response.status, await response.json()


async def targets_of(client: Client, user: str) -> list[Any]:
    response = await client.get("/v1/targets", headers=as_user(user))
    assert response.status == 200
    targets: list[Any] = (await response.json())["targets"]
    return targets


async def test_unknown_target_is_inserted_and_a_known_one_touched(
    offline_api: Client, pool: Pool
) -> None:
    body = {"token": fcm_token(1), "device_label": "Firefox on Linux"}
    status, first = await register(offline_api, "alice", body)
    assert status == 201
    assert first["target"]["device_label"] == "Firefox on Linux"
    assert first["target"]["kind"] == "token"

    status, second = await register(offline_api, "alice", body)
    assert status == 200
    assert second["target"]["id"] == first["target"]["id"]
    assert second["target"]["created_at"] == first["target"]["created_at"]
    assert second["target"]["last_seen_at"] > first["target"]["last_seen_at"]

    row = await pool.fetchrow("SELECT * FROM push_tokens")
    assert row["user_id"] == "alice"
    assert row["target"] == fcm_token(1)
    assert row["platform"] == "web"
    assert row["user_agent"].startswith("Python")
    # A touch that changes nothing but last_seen_at is not a new token set.
    assert await outbox(pool) == [("alice", [fcm_token(1)])]

    status, _ = await register(offline_api, "alice", {**body, "device_label": "Firefox 140"})
    assert status == 200
    assert await outbox(pool) == [("alice", [fcm_token(1)])] * 2


async def test_fid_targets_are_kept_apart_from_tokens(offline_api: Client, pool: Pool) -> None:
    status, body = await register(offline_api, "alice", {"fid": FID, "project_id": "herald-dev"})
    assert status == 201
    assert body["target"]["kind"] == "fid"
    row = await pool.fetchrow("SELECT kind, project_id FROM push_tokens WHERE target = $1", FID)
    assert (row["kind"], row["project_id"]) == ("fid", "herald-dev")


async def test_a_target_presented_by_another_user_moves_to_that_user(
    offline_api: Client, pool: Pool
) -> None:
    await register(offline_api, "alice", {"token": fcm_token(1)})
    await register(offline_api, "alice", {"token": fcm_token(2)})
    status, _ = await register(offline_api, "bob", {"token": fcm_token(1)})
    assert status == 201

    assert [t["masked"] for t in await targets_of(offline_api, "bob")] == ["cAbC…xxxx"]
    assert len(await targets_of(offline_api, "alice")) == 1
    owner = await pool.fetchval("SELECT user_id FROM push_tokens WHERE target = $1", fcm_token(1))
    assert owner == "bob"
    assert (await outbox(pool))[-2:] == [("alice", [fcm_token(2)]), ("bob", [fcm_token(1)])]


async def test_refresh_replaces_the_old_target_in_one_change(
    offline_api: Client, pool: Pool
) -> None:
    await register(offline_api, "alice", {"token": fcm_token(1)})
    await register(offline_api, "alice", {"token": fcm_token(2)})
    response = await offline_api.post(
        "/v1/targets/refresh",
        json={"old": {"token": fcm_token(1)}, "new": {"token": fcm_token(3)}},
        headers=as_user("alice"),
    )
    assert response.status == 201
    assert (await response.json())["replaced"] is True
    values = await pool.fetch("SELECT target FROM push_tokens ORDER BY target")
    assert [r["target"] for r in values] == [fcm_token(2), fcm_token(3)]
    # One new set: never one with both old and new, nor one with neither.
    assert (await outbox(pool))[2:] == [("alice", [fcm_token(2), fcm_token(3)])]


async def test_unregister_one_and_all(offline_api: Client, pool: Pool) -> None:
    _, first = await register(offline_api, "alice", {"token": fcm_token(1)})
    await register(offline_api, "alice", {"token": fcm_token(2)})
    await register(offline_api, "alice", {"token": fcm_token(3)})

    target_id = first["target"]["id"]
    response = await offline_api.delete(f"/v1/targets/{target_id}", headers=as_user("alice"))
    assert response.status == 204
    response = await offline_api.delete(f"/v1/targets/{target_id}", headers=as_user("alice"))
    assert response.status == 404
    assert len(await targets_of(offline_api, "alice")) == 2

    response = await offline_api.delete("/v1/targets", headers=as_user("alice"))
    assert response.status == 200
    assert await response.json() == {"removed": 2}
    assert await targets_of(offline_api, "alice") == []
    assert (await outbox(pool))[-2:] == [("alice", [fcm_token(2), fcm_token(3)]), ("alice", [])]


async def test_the_list_shows_targets_masked(offline_api: Client) -> None:
    await register(offline_api, "alice", {"token": fcm_token(1), "platform": "android"})
    response = await offline_api.get("/v1/targets", headers=as_user("alice"))
    text = await response.text()
    assert fcm_token(1) not in text
    (target,) = (await response.json())["targets"]
    assert target["masked"] == f"{fcm_token(1)[:4]}…{fcm_token(1)[-4:]}"
    assert target["platform"] == "android"


async def test_the_least_recently_seen_targets_are_evicted_beyond_the_cap(
    database_url: str, pool: Pool
) -> None:
    async with running(make_settings(database_url, max_targets_per_user=3)) as client:
        for n in range(3):
            await register(client, "alice", {"token": fcm_token(n)})
        # Seen again: token 0 is now more recent than token 1.
        await register(client, "alice", {"token": fcm_token(0)})
        status, body = await register(client, "alice", {"token": fcm_token(3)})
        assert status == 201
        assert body["evicted"] == [f"{fcm_token(1)[:4]}…{fcm_token(1)[-4:]}"]
        listed = await client.get("/v1/targets", headers=as_user("alice"))
        assert (await listed.json())["max_targets"] == 3
    remaining = await pool.fetch("SELECT target FROM push_tokens ORDER BY target")
    assert [r["target"] for r in remaining] == [fcm_token(0), fcm_token(2), fcm_token(3)]
    assert (await outbox(pool))[-1] == ("alice", [fcm_token(0), fcm_token(2), fcm_token(3)])


async def test_a_change_past_the_cap_writes_one_set_and_a_move_evicts_at_the_new_owner(
    database_url: str, pool: Pool
) -> None:
    async with running(make_settings(database_url, max_targets_per_user=2)) as client:
        await register(client, "alice", {"token": fcm_token(1)})
        await register(client, "alice", {"token": fcm_token(2)})
        await register(client, "bob", {"token": fcm_token(3)})
        rows_before = len(await outbox(pool))
        await register(client, "alice", {"token": fcm_token(4)})
        # Bob's target moves to alice, who is at the cap: her least recently seen goes.
        status, body = await register(client, "alice", {"token": fcm_token(3)})
    assert status == 201
    assert body["evicted"] == [f"{fcm_token(2)[:4]}…{fcm_token(2)[-4:]}"]
    assert (await outbox(pool))[rows_before:] == [
        ("alice", [fcm_token(2), fcm_token(4)]),
        ("bob", []),
        ("alice", [fcm_token(4), fcm_token(3)]),
    ]
