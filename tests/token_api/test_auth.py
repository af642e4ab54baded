"""Who is calling: users only ever see and change their own targets; bad tokens get 401;
service endpoints need a service credential; CORS only for configured origins."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from token_api.support import (
    AS_SERVICE,
    AUDIENCE,
    ISSUER,
    SECRET,
    Client,
    as_user,
    fcm_token,
    make_settings,
    running,
    token,
)

from herald_token_api.auth import ConfiguredSecret, jwt_decoder
from herald_token_api.db import Pool


async def put_target(client: Client, headers: dict[str, str], n: int = 1) -> Any:
    return await client.put("/v1/targets", json={"token": fcm_token(n)}, headers=headers)


async def test_a_user_cannot_list_touch_refresh_or_delete_another_users_targets(
    offline_api: Client, pool: Pool
) -> None:
    created = await (await put_target(offline_api, as_user("alice"))).json()
    alice_target = created["target"]["id"]
    seen_at = await pool.fetchval("SELECT last_seen_at FROM push_tokens")

    listed = await offline_api.get("/v1/targets", headers=as_user("bob"))
    assert (await listed.json())["targets"] == []
    deleted = await offline_api.delete(f"/v1/targets/{alice_target}", headers=as_user("bob"))
    assert deleted.status == 404
    refreshed = await offline_api.post(
        "/v1/targets/refresh",
        json={"old": {"token": fcm_token(1)}, "new": {"token": fcm_token(2)}},
        headers=as_user("bob"),
    )
    assert (await refreshed.json())["replaced"] is False
    everything = await offline_api.delete("/v1/targets", headers=as_user("bob"))
    assert await everything.json() == {"removed": 1}  # bob's own new target only

    row = await pool.fetchrow("SELECT user_id, last_seen_at FROM push_tokens")
    assert (row["user_id"], row["last_seen_at"]) == ("alice", seen_at)
    listed = await offline_api.get("/v1/targets", headers=as_user("alice"))
    assert [t["id"] for t in (await listed.json())["targets"]] == [alice_target]


async def test_the_user_comes_from_the_token_never_from_the_body(offline_api: Client) -> None:
    response = await offline_api.put(
        "/v1/targets", json={"token": fcm_token(1), "user_id": "bob"}, headers=as_user("alice")
    )
    assert response.status == 422
    response = await offline_api.get("/v1/targets?user_id=alice", headers=as_user("bob"))
    assert (await response.json())["targets"] == []


def unsigned(claims: dict[str, Any]) -> str:
    def part(document: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({**claims, 'exp': 4102444800})}."


OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
BAD_TOKENS = {
    "missing": None,
    "not bearer": "Basic YWxpY2U6c2VjcmV0",
    "empty bearer": "Bearer ",
    "garbage": "Bearer not.a.jwt",
    "expired": f"Bearer {token('alice', expires_in_s=-120)}",
    "wrong audience": f"Bearer {token('alice', audience='someone-else')}",
    "wrong issuer": f"Bearer {token('alice', issuer='https://evil.example/')}",
    "forged": f"Bearer {token('alice', key='a-different-secret-of-enough-length!!')}",
    "alg none": "Bearer " + unsigned({"sub": "alice", "iss": ISSUER, "aud": AUDIENCE}),
    "no sub": "Bearer "
    + jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "exp": 4102444800}, SECRET, algorithm="HS256"),
    "empty sub": f"Bearer {token('')}",
    "no exp": "Bearer "
    + jwt.encode({"sub": "alice", "iss": ISSUER, "aud": AUDIENCE}, SECRET, algorithm="HS256"),
    "control character in sub": "Bearer " + token("ali\u0000ce"),
    "RS256 without JWKS": f"Bearer {token('alice', key=OTHER_RSA, algorithm='RS256')}",
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_bad_tokens_are_401_problems(offline_api: Client, case: str) -> None:
    value = BAD_TOKENS[case]
    headers = {} if value is None else {"Authorization": value}
    response = await offline_api.get("/v1/targets", headers=headers)
    assert response.status == 401
    assert response.content_type == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await response.json())["reason"] == "unauthorized"


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.get_algorithm_by_name(alg)
    document: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
    return {**document, "kid": kid, "alg": alg, "use": "sig"}


@pytest.fixture
async def jwks_url() -> AsyncIterator[str]:
    """A JWKS endpoint on 127.0.0.1 with an RSA and an EC key."""
    keys = {"keys": [jwk(RSA_KEY, "rsa-1", "RS256"), jwk(EC_KEY, "ec-1", "ES256")]}

    async def serve(_: web.Request) -> web.Response:
        return web.json_response(keys)

    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}/.well-known/jwks.json"
    await runner.cleanup()


async def test_rs256_and_es256_tokens_are_verified_with_the_jwks(
    database_url: str, pool: Pool, jwks_url: str
) -> None:
    settings = make_settings(database_url, jwt_hs256_secret=None, jwt_jwks_url=jwks_url)
    good = {
        "RS256": token("alice", key=RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"}),
        "ES256": token("alice", key=EC_KEY, algorithm="ES256", headers={"kid": "ec-1"}),
    }
    bad = {
        "forged with the kid": token(
            "alice", key=OTHER_RSA, algorithm="RS256", headers={"kid": "rsa-1"}
        ),
        "unknown kid": token("alice", key=RSA_KEY, algorithm="RS256", headers={"kid": "nope"}),
        "EC key, RS256 alg": token(
            "alice", key=RSA_KEY, algorithm="RS256", headers={"kid": "ec-1"}
        ),
        "HS256 without a secret": token("alice"),
    }
    async with running(settings) as client:
        for name, value in good.items():
            response = await client.get("/v1/targets", headers={"Authorization": f"Bearer {value}"})
            assert response.status == 200, name
        for name, value in bad.items():
            response = await client.get("/v1/targets", headers={"Authorization": f"Bearer {value}"})
            assert response.status == 401, name


REMINDER = {
    "user_id": "alice",
    "content": {"title": "Stand-up"},
    "fire_at": "2030-01-01T09:00:00+01:00",
    "expires_at": "2030-01-01T10:00:00+01:00",
}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-Herald-Service-Key": "wrong"}, 401),
        (as_user("alice"), 403),
        ({"Authorization": f"Bearer {token('svc', scope='openid profile')}"}, 403),
    ],
)
async def test_service_endpoints_need_a_service_credential(
    offline_api: Client, headers: dict[str, str], status: int
) -> None:
    for method, path in [
        ("POST", "/v1/reminders"),
        ("DELETE", "/v1/reminders/rem-1"),
        ("POST", "/v1/notifications"),
    ]:
        response = await offline_api.request(method, path, json=REMINDER, headers=headers)
        assert response.status == status, path
        assert response.content_type == "application/problem+json"


@pytest.mark.parametrize(
    "headers",
    [AS_SERVICE, {"Authorization": f"Bearer {token('billing', scope='openid herald:service')}"}],
)
async def test_a_service_key_or_a_scoped_token_is_accepted(
    api: Client, headers: dict[str, str]
) -> None:
    response = await api.post("/v1/reminders", json=REMINDER, headers=headers)
    assert response.status == 202


async def test_cors_answers_only_the_configured_origins(database_url: str, pool: Pool) -> None:
    settings = make_settings(database_url, cors_origins="https://app.example, https://b.example")
    preflight = {"Access-Control-Request-Method": "PUT"}
    async with running(settings) as client:
        allowed = await client.options(
            "/v1/targets", headers={**preflight, "Origin": "https://app.example"}
        )
        assert allowed.status == 204
        assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example"
        assert "PUT" in allowed.headers["Access-Control-Allow-Methods"]
        assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]

        denied = await client.options(
            "/v1/targets", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert denied.status == 403
        assert "Access-Control-Allow-Origin" not in denied.headers

        listed = await client.get(
            "/v1/targets", headers={**as_user("alice"), "Origin": "https://b.example"}
        )
        assert listed.headers["Access-Control-Allow-Origin"] == "https://b.example"
        other = await client.get(
            "/v1/targets", headers={**as_user("alice"), "Origin": "https://evil.example"}
        )
        assert "Access-Control-Allow-Origin" not in other.headers


def test_only_the_configured_secret_skips_the_hmac_key_checks() -> None:
    """The HS256 key checks run once for the configured secret; any other key still gets them."""
    hs256 = ConfiguredSecret(SECRET)
    assert hs256.prepare_key(SECRET) == SECRET.encode()
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(jwt.InvalidKeyError):
        hs256.prepare_key(pem)
    with pytest.raises(jwt.InvalidKeyError):
        ConfiguredSecret(pem.decode())
    forged = jwt.encode(
        {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": 4102444800},
        "another-secret-0123456789abcdef01234567",
        algorithm="HS256",
    )
    with pytest.raises(jwt.InvalidSignatureError):
        jwt_decoder(SECRET).decode(forged, SECRET, algorithms=["HS256"], audience=AUDIENCE)
