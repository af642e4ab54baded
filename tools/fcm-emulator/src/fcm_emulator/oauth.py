"""The OAuth 2.0 JWT-bearer token exchange google-auth's service-account credentials use."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import jwt

from fcm_emulator.service_account import Keystore

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
MESSAGING_SCOPES = frozenset(
    {
        "https://www.googleapis.com/auth/firebase.messaging",
        "https://www.googleapis.com/auth/cloud-platform",
    }
)
MAX_ASSERTION_LIFETIME_S = 3600
CLOCK_SKEW_S = 300

_BAD_TIMES = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
    "timeframe. Check your iat and exp values in the JWT claim."
)


class OAuthError(Exception):
    def __init__(self, error: str, description: str) -> None:
        self.error = error
        self.description = description
        super().__init__(f"{error}: {description}")


@dataclass(frozen=True, slots=True)
class AccessGrant:
    project_id: str
    client_email: str
    expires_at: float


def verify_assertion(
    assertion: str, keystore: Keystore, audiences: frozenset[str], now: float
) -> tuple[str, str]:
    """Check an RS256 assertion signed by a trusted account; return (client_email, project_id).

    google-auth always sets `aud` to Google's token URI whatever the file's `token_uri` says,
    so that audience is accepted beside the emulator's own.
    """
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise OAuthError("invalid_grant", f"Invalid JWT: {exc}") from exc
    issuer = unverified.get("iss")
    if header.get("alg") != "RS256":
        raise OAuthError("invalid_grant", "Invalid JWT: the signing algorithm must be RS256.")
    account = keystore.find(issuer) if isinstance(issuer, str) else None
    if account is None:
        raise OAuthError("invalid_grant", "Invalid grant: account not found")
    if header.get("kid") not in (None, account.private_key_id):
        raise OAuthError("invalid_grant", "Invalid JWT Signature.")
    try:
        claims = jwt.decode(
            assertion,
            account.public_key,
            algorithms=["RS256"],
            audience=list(audiences),
            options={"require": ["iss", "aud", "iat", "exp"], "verify_exp": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise OAuthError("invalid_grant", "Invalid JWT Signature.") from exc
    except jwt.InvalidAudienceError as exc:
        raise OAuthError("invalid_grant", f"Invalid JWT audience: {exc}") from exc
    except jwt.PyJWTError as exc:
        raise OAuthError("invalid_grant", f"Invalid JWT: {exc}") from exc
    iat, exp = claims["iat"], claims["exp"]
    if (
        not isinstance(iat, int | float)
        or not isinstance(exp, int | float)
        or exp <= now - CLOCK_SKEW_S
        or iat > now + CLOCK_SKEW_S
        or exp - iat > MAX_ASSERTION_LIFETIME_S
        or exp <= iat
    ):
        raise OAuthError("invalid_grant", _BAD_TIMES)
    scopes = set(str(claims.get("scope", "")).split())
    if not scopes & MESSAGING_SCOPES:
        raise OAuthError(
            "invalid_scope",
            "The assertion's scope must include "
            "https://www.googleapis.com/auth/firebase.messaging or "
            "https://www.googleapis.com/auth/cloud-platform.",
        )
    return account.client_email, account.project_id


class AccessTokens:
    """Opaque bearer tokens handed out by the token endpoint, each for one project."""

    def __init__(self, ttl_s: int) -> None:
        self.ttl_s = ttl_s
        self._grants: dict[str, AccessGrant] = {}

    def issue(self, client_email: str, project_id: str, now: float) -> str:
        self._drop_expired(now)
        token = f"ya29.emulator.{secrets.token_urlsafe(32)}"
        self._grants[token] = AccessGrant(project_id, client_email, now + self.ttl_s)
        return token

    def lookup(self, token: str, now: float) -> AccessGrant | None:
        grant = self._grants.get(token)
        if grant is None or grant.expires_at <= now:
            return None
        return grant

    def expire_all(self) -> None:
        self._grants.clear()

    def _drop_expired(self, now: float) -> None:
        expired = [token for token, grant in self._grants.items() if grant.expires_at <= now]
        for token in expired:
            del self._grants[token]
