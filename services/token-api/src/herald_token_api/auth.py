"""Who is calling: users by a verified bearer JWT (``sub``), services by an API key or a JWT
carrying the service scope."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
from aiohttp import web
from jwt.algorithms import HMACAlgorithm

from herald_token_api.names import SERVICE_KEY_HEADER
from herald_token_api.problems import Problem, unavailable
from herald_token_api.settings import TokenApiSettings
from herald_token_api.verified import VerifiedTokens

log = logging.getLogger(__name__)

JWKS_ALGORITHMS = frozenset({"RS256", "ES256"})
HS256_ONLY = ["HS256"]
# An unknown key id refetches the JWKS, but not more often than this.
JWKS_MIN_REFRESH_S = 10.0
JWKS_FETCH_TIMEOUT_S = 5.0
SUBJECT = re.compile(r"[^\x00-\x1f\x7f]{1,255}")


@dataclass(frozen=True)
class Caller:
    subject: str
    scopes: frozenset[str]


def _unauthorized(detail: str, error: str = "invalid_token") -> Problem:
    return Problem(
        401, "unauthorized", detail, headers={"WWW-Authenticate": f'Bearer error="{error}"'}
    )


def _header(token: str) -> dict[str, Any]:
    """The token's JOSE header, read only to choose the key: PyJWT verifies everything after
    (reading it with PyJWT too would parse and check the whole token twice)."""
    segment = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    # RecursionError: JSON nested deeper than the interpreter's recursion limit.
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise jwt.DecodeError("the token header is not base64url JSON") from exc
    if not isinstance(header, dict):
        raise jwt.DecodeError("the token header is not a JSON object")
    return header


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    scope = claims.get("scope", "")
    scp = claims.get("scp", [])
    found = set(scope.split()) if isinstance(scope, str) else set()
    if isinstance(scp, list):
        found.update(s for s in scp if isinstance(s, str))
    return frozenset(found)


class ConfiguredSecret(HMACAlgorithm):
    """HS256 whose checks of the key itself (not an asymmetric key, a certificate or a JWK: a
    DER parse, a JSON parse and more, over a third of a verification's CPU) run once for the
    configured secret instead of on every token; any other key is checked as usual."""

    def __init__(self, secret: str) -> None:
        super().__init__(HMACAlgorithm.SHA256)
        self._secret = secret
        self._prepared = super().prepare_key(secret)
        self._short = super().check_key_length(self._prepared)

    def prepare_key(self, key: str | bytes) -> bytes:
        return self._prepared if key is self._secret else super().prepare_key(key)

    def check_key_length(self, key: bytes) -> str | None:
        return self._short if key is self._prepared else super().check_key_length(key)


def jwt_decoder(secret: str | None) -> jwt.PyJWT:
    """PyJWT requiring the claims the API relies on, with ``secret`` as its HS256 key."""
    decoder = jwt.PyJWT({"require": ["exp", "iss", "aud", "sub"]})
    if secret is not None:
        # PyJWT has no public way to give its PyJWS an algorithm object.
        jws: jwt.PyJWS = decoder._jws
        jws.unregister_algorithm("HS256")
        jws.register_algorithm("HS256", ConfiguredSecret(secret))
    return decoder


class JwksCache:
    """The signing keys published at a JWKS URL, refetched when stale or on an unknown key id
    (at most once per ``JWKS_MIN_REFRESH_S``, so bad tokens cannot hammer the issuer)."""

    def __init__(self, url: str, max_age_s: float) -> None:
        self._url = url
        self._max_age_s = max_age_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._tried_at = float("-inf")
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=JWKS_FETCH_TIMEOUT_S)
            self._session = aiohttp.ClientSession(timeout=timeout)

    async def stop(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _wants_refresh(self, kid: str) -> bool:
        now = time.monotonic()
        stale = now - self._fetched_at > self._max_age_s or kid not in self._keys
        return stale and now - self._tried_at > JWKS_MIN_REFRESH_S

    async def key(self, kid: str) -> jwt.PyJWK | None:
        if self._wants_refresh(kid):
            async with self._lock:
                if self._wants_refresh(kid):
                    await self._refresh()
        if not self._keys:
            raise unavailable("auth-unavailable", "the signing keys cannot be fetched")
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        assert self._session is not None, "JwksCache.start() was not called"
        self._tried_at = time.monotonic()
        try:
            async with self._session.get(self._url) as response:
                response.raise_for_status()
                document = await response.json(content_type=None)
            if not isinstance(document, dict):
                raise ValueError("the JWKS is not a JSON object")
            keys = jwt.PyJWKSet.from_dict(document).keys
        except (aiohttp.ClientError, TimeoutError, ValueError, jwt.PyJWTError) as exc:
            log.warning("cannot fetch the JWKS: %r", exc)
            return
        self._keys = {k.key_id: k for k in keys if k.key_id and k.algorithm_name in JWKS_ALGORITHMS}
        self._fetched_at = self._tried_at


class Authenticator:
    def __init__(self, settings: TokenApiSettings) -> None:
        settings.check_auth()
        secret = settings.jwt_hs256_secret
        self._secret = secret.get_secret_value() if secret is not None else None
        self._jwks = (
            JwksCache(settings.jwt_jwks_url, settings.jwt_jwks_cache_s)
            if settings.jwt_jwks_url
            else None
        )
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._leeway_s = settings.jwt_leeway_s
        self._decoder = jwt_decoder(self._secret)
        self._service_keys = tuple(k.encode() for k in settings.service_keys())
        self._service_scope = settings.service_scope
        self._verified: VerifiedTokens[Caller] = VerifiedTokens(
            settings.jwt_verified_cache_size, settings.jwt_verified_cache_max_age_s
        )

    async def start(self) -> None:
        if self._jwks is not None:
            await self._jwks.start()

    async def stop(self) -> None:
        if self._jwks is not None:
            await self._jwks.stop()

    async def user(self, request: web.Request) -> str:
        """The verified ``sub`` of the request's bearer token, or a 401 problem."""
        return (await self._caller(request)).subject

    async def service(self, request: web.Request) -> str:
        """The calling service (a key or a scoped JWT), or a 401/403 problem."""
        presented = request.headers.get(SERVICE_KEY_HEADER)
        if presented is not None:
            # aiohttp keeps header bytes that are not UTF-8 as lone surrogates: encode them back.
            raw = presented.encode("utf-8", "surrogateescape")
            if any(hmac.compare_digest(raw, k) for k in self._service_keys):
                return "api-key"
            raise _unauthorized("the service key is not valid")
        caller = await self._caller(request)
        if self._service_scope not in caller.scopes:
            raise Problem(403, "forbidden", f"the token lacks the {self._service_scope} scope")
        return caller.subject

    async def _caller(self, request: web.Request) -> Caller:
        authorization = request.headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(
                401,
                "unauthorized",
                "a bearer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        token = token.strip()
        if not token.isascii():
            # A JWT is base64url and dots; PyJWT would fail to encode lone surrogates.
            raise _unauthorized("the token is not valid: not ASCII")
        now_s = time.time()
        known = self._verified.get(token, now_s)
        if known is not None:
            return known
        try:
            key, algorithms = await self._key_and_algorithms(token)
            claims = self._decoder.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway_s,
            )
        except jwt.PyJWTError as exc:
            raise _unauthorized(f"the token is not valid: {exc}") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not SUBJECT.fullmatch(subject):
            raise _unauthorized("the token's subject is not a valid user id")
        caller = Caller(subject, _scopes(claims))
        # PyJWT read exp with int() too, and checked that now < exp + leeway.
        self._verified.put(token, caller, int(claims["exp"]) + self._leeway_s, now_s)
        return caller

    async def _key_and_algorithms(self, token: str) -> tuple[str | jwt.PyJWK, list[str]]:
        if self._jwks is None:
            # One possible key: PyJWT checks the header's alg against the list itself, and
            # reading the header here as well would cost a tenth of the verification.
            assert self._secret is not None
            return self._secret, HS256_ONLY
        jose = _header(token)
        alg = jose.get("alg")
        return await self._key_for(alg, jose.get("kid")), [str(alg)]

    async def _key_for(self, alg: object, kid: object) -> str | jwt.PyJWK:
        if not isinstance(alg, str):
            # Also keeps unhashable values (a list, an object) out of the set lookup below.
            raise jwt.InvalidTokenError("the token's alg is not a string")
        if alg == "HS256" and self._secret is not None:
            return self._secret
        if alg in JWKS_ALGORITHMS and self._jwks is not None:
            key = await self._jwks.key(kid) if isinstance(kid, str) else None
            if key is None:
                raise jwt.InvalidTokenError("unknown signing key")
            return key
        raise jwt.InvalidTokenError(f"algorithm {alg!r} is not accepted")
