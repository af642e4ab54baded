"""Development credentials: the HS256 secret the token-api verifies user JWTs with, a service
key for its service endpoints, and demo-user JWTs minted with that secret.

They are generated once per state folder, kept in ``<state>/dev/credentials.json`` (mode 0600)
and are for a development machine only: whoever can read the file can act as any user.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import jwt

ISSUER = "herald-dev"
AUDIENCE = "herald-token-api"
USER_JWT_TTL_S = 12 * 3600


@dataclass(frozen=True)
class DevCredentials:
    jwt_secret: str
    service_key: str
    issuer: str = ISSUER
    audience: str = AUDIENCE

    @classmethod
    def generate(cls) -> DevCredentials:
        return cls(jwt_secret=secrets.token_urlsafe(48), service_key=secrets.token_urlsafe(32))

    @classmethod
    def load(cls, path: Path) -> DevCredentials:
        stored = json.loads(path.read_text())
        return cls(**{k: str(v) for k, v in stored.items() if k in cls.__dataclass_fields__})

    @classmethod
    def load_or_create(cls, path: Path) -> tuple[DevCredentials, bool]:
        """The credentials in ``path``, creating the file first when it is missing; the flag
        says whether they are new."""
        if path.is_file():
            return cls.load(path), False
        created = cls.generate()
        created.save(path)
        return created, True

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(self), out, indent=2)
            out.write("\n")

    def user_jwt(self, user_id: str, ttl_s: float = USER_JWT_TTL_S) -> str:
        """A bearer JWT for ``user_id``, as the product's login would issue (dev only)."""
        now = int(time.time())
        claims = {
            "sub": user_id,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + int(ttl_s),
        }
        return jwt.encode(claims, self.jwt_secret, algorithm="HS256")

    def user_of(self, token: str) -> str:
        """The ``sub`` of a JWT minted by ``user_jwt``; jwt.InvalidTokenError when it is not."""
        claims = jwt.decode(
            token,
            self.jwt_secret,
            algorithms=["HS256"],
            issuer=self.issuer,
            audience=self.audience,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )
        return str(claims["sub"])
