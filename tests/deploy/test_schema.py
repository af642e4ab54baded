"""Every built-in Kubernetes object of each overlay validates against the API's JSON schema,
offline (kubernetes-validate ships the schemas). Custom resources (Strimzi, KEDA, Prometheus
Operator) have no bundled schema: the other tests check the fields Herald relies on."""

from __future__ import annotations

import pytest
from deploy.manifests import OVERLAYS, build

KUBERNETES_VERSION = "1.32"
CUSTOM_GROUPS = ("kafka.strimzi.io/", "keda.sh/", "monitoring.coreos.com/")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_builtin_objects_match_the_api_schema(overlay: str) -> None:
    validator = pytest.importorskip("kubernetes_validate")
    checked = 0
    for doc in build(overlay):
        if doc["apiVersion"].startswith(CUSTOM_GROUPS):
            continue
        where = f"{doc['kind']} {doc['metadata']['name']}"
        try:
            validator.validate(doc, KUBERNETES_VERSION, strict=True)
        except validator.ValidationError as exc:
            pytest.fail(f"{overlay}: {where}: {'.'.join(map(str, exc.path))}: {exc.message}")
        checked += 1
    assert checked
