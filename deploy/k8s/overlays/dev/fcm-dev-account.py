"""Create the Secret ``$SECRET_NAME`` holding ``$FCM_PROJECT.json``, a service account for the
FCM emulator at ``$FCM_EMULATOR_URL``, unless it exists. Runs in the dev overlay's Job."""

from __future__ import annotations

import base64
import json
import os
import ssl
import urllib.error
import urllib.request
from pathlib import Path

from fcm_emulator.service_account import generate

ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
API_SERVER = "https://kubernetes.default.svc"
CONFLICT = 409


def main() -> None:
    project = os.environ["FCM_PROJECT"]
    name = os.environ["SECRET_NAME"]
    namespace = (ACCOUNT_DIR / "namespace").read_text().strip()
    info = generate(project, os.environ["FCM_EMULATOR_URL"])
    document = json.dumps(info, indent=2).encode()
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "herald-dev-infra"}},
        "type": "Opaque",
        "data": {f"{project}.json": base64.b64encode(document).decode()},
    }
    request = urllib.request.Request(
        f"{API_SERVER}/api/v1/namespaces/{namespace}/secrets",
        data=json.dumps(secret).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {(ACCOUNT_DIR / 'token').read_text().strip()}",
            "Content-Type": "application/json",
        },
    )
    context = ssl.create_default_context(cafile=str(ACCOUNT_DIR / "ca.crt"))
    try:
        with urllib.request.urlopen(request, context=context, timeout=10):
            print(f"secret {name}: created for project {project}", flush=True)
    except urllib.error.HTTPError as exc:
        if exc.code != CONFLICT:
            raise
        print(f"secret {name}: exists, kept", flush=True)


if __name__ == "__main__":
    main()
