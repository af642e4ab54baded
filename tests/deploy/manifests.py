"""Reading the built Kubernetes manifests of deploy/k8s, and the settings the services would get
from them."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import pytest
import yaml
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from herald.settings import HeraldSettings
from herald_dispatcher.settings import DispatcherSettings
from herald_scheduler.settings import SchedulerSettings
from herald_token_api.settings import TokenApiSettings

Manifest = dict[str, Any]
S = TypeVar("S", bound=BaseSettings)

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
# Each service's Deployment and container name, and the settings class it reads.
SERVICES: dict[str, type[HeraldSettings]] = {
    "token-api": TokenApiSettings,
    "scheduler": SchedulerSettings,
    "dispatcher": DispatcherSettings,
}
# ConfigMaps named after a settings table.
CONFIG_MAPS: dict[str, type[HeraldSettings]] = {"herald-common": HeraldSettings, **SERVICES}
POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


@cache
def _build(path: Path) -> tuple[Manifest, ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed")
    result = subprocess.run(
        [kubectl, "kustomize", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {path} failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def build(overlay: str) -> list[Manifest]:
    """``kubectl kustomize deploy/k8s/overlays/<overlay>``, parsed (built once per session)."""
    return list(_build(K8S / "overlays" / overlay))


def build_base() -> list[Manifest]:
    return list(_build(K8S / "base"))


def of_kind(docs: list[Manifest], kind: str) -> list[Manifest]:
    return [doc for doc in docs if doc["kind"] == kind]


def named(docs: list[Manifest], kind: str, name: str) -> Manifest:
    """The object of ``kind`` called ``name``; ConfigMaps and Secrets match by generated name."""
    found = [doc for doc in of_kind(docs, kind) if _base_name(doc) == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def _base_name(doc: Manifest) -> str:
    name: str = doc["metadata"]["name"]
    if doc["kind"] in ("ConfigMap", "Secret"):
        stem, _, suffix = name.rpartition("-")
        if stem and len(suffix) == 10:
            return stem
    return name


def pod_spec(workload: Manifest) -> Manifest:
    spec: Manifest = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: Manifest) -> list[Manifest]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def service_container(docs: list[Manifest], service: str) -> Manifest:
    found: list[Manifest] = [
        c
        for c in pod_spec(named(docs, "Deployment", service))["containers"]
        if c["name"] == service
    ]
    assert len(found) == 1, f"Deployment {service} has no container {service}"
    return found[0]


def config_map_data(docs: list[Manifest], name: str) -> dict[str, str]:
    """The data of the ConfigMap whose full (generated) name is ``name``."""
    (found,) = [doc for doc in of_kind(docs, "ConfigMap") if doc["metadata"]["name"] == name]
    return dict(found.get("data", {}))


def secret_data(docs: list[Manifest], name: str) -> dict[str, str] | None:
    """The decoded data of the Secret called ``name``, or None when the build does not hold it
    (production Secrets are created outside the manifests)."""
    found = [doc for doc in of_kind(docs, "Secret") if doc["metadata"]["name"] == name]
    if not found:
        return None
    data = {k: base64.b64decode(v).decode() for k, v in found[0].get("data", {}).items()}
    return data | dict(found[0].get("stringData", {}))


def env_sources(docs: list[Manifest], container: Manifest) -> Iterator[tuple[str, dict[str, str]]]:
    """("configmap NAME" | "secret NAME" | "env", variables) for each source of the container's
    environment that the build holds."""
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            yield f"configmap {name}", config_map_data(docs, name)
        else:
            name = source["secretRef"]["name"]
            data = secret_data(docs, name)
            if data is not None:
                yield f"secret {name}", data
    plain = {e["name"]: e.get("value", "") for e in container.get("env", []) if "value" in e}
    yield "env", plain


def environment(docs: list[Manifest], container: Manifest) -> dict[str, str]:
    env: dict[str, str] = {}
    for _, variables in env_sources(docs, container):
        env.update(variables)
    return env


def env_names(settings: type[BaseSettings]) -> set[str]:
    """Every environment variable a settings class reads."""
    prefix = settings.model_config.get("env_prefix", "")
    return {(prefix + field).upper() for field in settings.model_fields}


def secret_names(settings: type[BaseSettings]) -> set[str]:
    """The variables of the fields that hold a secret (``SecretStr``)."""
    prefix = settings.model_config.get("env_prefix", "")
    return {
        (prefix + field).upper()
        for field, info in settings.model_fields.items()
        if SecretStr in _types(info.annotation)
    }


def _types(annotation: Any) -> set[Any]:
    args = getattr(annotation, "__args__", None)
    if args is None:
        return {annotation}
    return {t for arg in args for t in _types(arg)}


def load_settings(settings: type[S], env: Mapping[str, str]) -> S:
    """``settings`` as the service would read it from exactly ``env``."""
    with mock.patch.dict(os.environ, env, clear=True):
        return settings()


def resolve_port(container: Manifest, port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port]
    return int(number)


def matches(selector: Manifest, labels: Mapping[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions) selects ``labels``."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def pod_labels(workload: Manifest) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels
