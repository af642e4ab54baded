"""Development service-account files, and the public keys of the accounts the emulator trusts."""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrustedAccount:
    client_email: str
    project_id: str
    private_key_id: str
    public_key: rsa.RSAPublicKey


def generate(project_id: str, emulator_url: str, name: str = "herald-dev") -> dict[str, str]:
    """A service-account JSON document, as the Google Cloud console issues one, whose
    `token_uri` is the emulator's token endpoint."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    base = emulator_url.rstrip("/")
    email = f"{name}@{project_id}.iam.gserviceaccount.com"
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": str(secrets.randbelow(10**21)),
        "auth_uri": f"{base}/o/oauth2/auth",
        "token_uri": f"{base}/token",
        "auth_provider_x509_cert_url": f"{base}/oauth2/v1/certs",
        "client_x509_cert_url": f"{base}/robot/v1/metadata/x509/{email}",
        "universe_domain": "googleapis.com",
    }


def write(path: Path, info: dict[str, str]) -> None:
    """Write the file readable by its owner only, as it holds a private key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(info, out, indent=2)
        out.write("\n")


def trusted_from(info: dict[str, Any]) -> TrustedAccount:
    if info.get("type") != "service_account":
        raise ValueError("not a service-account file: 'type' is not 'service_account'")
    key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the service account's private key is not an RSA key")
    return TrustedAccount(
        client_email=str(info["client_email"]),
        project_id=str(info["project_id"]),
        private_key_id=str(info.get("private_key_id", "")),
        public_key=key.public_key(),
    )


def load(path: Path) -> TrustedAccount:
    return trusted_from(json.loads(path.read_text()))


class Keystore:
    """Accounts from the given files, plus every `*.json` service-account file in `directory`;
    the directory is read again when an unknown account asks for a token, so files written
    after start-up are trusted without a restart."""

    def __init__(self, files: tuple[Path, ...], directory: Path | None) -> None:
        self._directory = directory
        self._accounts: dict[str, TrustedAccount] = {}
        for path in files:
            self.add(load(path))
        self._scan()

    def add(self, account: TrustedAccount) -> None:
        self._accounts[account.client_email] = account

    def find(self, client_email: str) -> TrustedAccount | None:
        account = self._accounts.get(client_email)
        if account is None:
            self._scan()
            account = self._accounts.get(client_email)
        return account

    def _scan(self) -> None:
        if self._directory is None or not self._directory.is_dir():
            return
        for path in sorted(self._directory.glob("*.json")):
            try:
                self.add(load(path))
            except (OSError, ValueError, KeyError) as exc:
                log.warning("skipping %s: %s", path, exc)

    def __len__(self) -> int:
        return len(self._accounts)
