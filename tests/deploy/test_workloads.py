"""Every overlay builds; every pod is hardened, probed and bounded; the services' probes, ports,
start-up and shutdown windows agree with what their settings make them do."""

from __future__ import annotations

import pytest
from deploy.manifests import (
    OVERLAYS,
    POD_KINDS,
    SERVICES,
    Manifest,
    build,
    build_base,
    containers,
    environment,
    load_settings,
    matches,
    named,
    of_kind,
    pod_labels,
    pod_spec,
    resolve_port,
    service_container,
)

from herald_token_api.settings import TokenApiSettings

# Margin for committing offsets, flushing the producer and closing connections after a drain.
CLOSE_MARGIN_S = 5
# The token-api drains twice in a row: HTTP requests, then its background jobs.
DRAIN_PHASES = {"token-api": 2, "scheduler": 1, "dispatcher": 1}


@pytest.fixture(params=OVERLAYS)
def docs(request: pytest.FixtureRequest) -> list[Manifest]:
    return build(request.param)


def workloads(docs: list[Manifest]) -> list[Manifest]:
    return [doc for doc in docs if doc["kind"] in POD_KINDS]


def test_base_and_overlays_build() -> None:
    kinds = {doc["kind"] for doc in build_base()}
    assert {"Deployment", "Service", "ConfigMap", "KafkaTopic", "NetworkPolicy"} <= kinds
    for overlay in OVERLAYS:
        names = {doc["metadata"]["name"] for doc in of_kind(build(overlay), "Deployment")}
        assert set(SERVICES) <= names, overlay


def test_every_container_is_bounded_and_hardened(docs: list[Manifest]) -> None:
    for workload in workloads(docs):
        pod = pod_spec(workload)
        where = f"{workload['kind']} {workload['metadata']['name']}"
        pod_security = pod.get("securityContext", {})
        assert pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        assert not pod.get("hostNetwork"), where
        assert not pod.get("hostPID"), where
        for container in containers(workload):
            at = f"{where} container {container['name']}"
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{at}: {bound}"
            security = container.get("securityContext", {})
            assert security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True, at
            assert security.get("allowPrivilegeEscalation") is False, at
            assert security.get("readOnlyRootFilesystem") is True, at
            assert security.get("privileged", False) is False, at
            assert "ALL" in security.get("capabilities", {}).get("drop", []), at


def test_long_running_containers_have_probes(docs: list[Manifest]) -> None:
    for deployment in of_kind(docs, "Deployment"):
        for container in pod_spec(deployment)["containers"]:
            at = f"Deployment {deployment['metadata']['name']} container {container['name']}"
            assert "readinessProbe" in container, at
            assert "livenessProbe" in container, at


@pytest.mark.parametrize("service", SERVICES)
def test_probes_use_the_health_routes_on_the_served_port(
    docs: list[Manifest], service: str
) -> None:
    container = service_container(docs, service)
    settings = load_settings(SERVICES[service], environment(docs, container))
    if isinstance(settings, TokenApiSettings):
        host, port = settings.http_host, settings.http_port
    else:
        host, port = settings.health_host, settings.health_port
    assert host == "0.0.0.0", "the server must listen on the pod's address, not loopback"
    for probe, path in (
        ("readinessProbe", "/readyz"),
        ("livenessProbe", "/healthz"),
        ("startupProbe", "/healthz"),
    ):
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert resolve_port(container, get["port"]) == port, probe


@pytest.mark.parametrize("service", SERVICES)
def test_startup_probe_outlasts_the_connection_retries(docs: list[Manifest], service: str) -> None:
    container = service_container(docs, service)
    settings = load_settings(SERVICES[service], environment(docs, container))
    probe = container["startupProbe"]
    window_s = probe["periodSeconds"] * probe["failureThreshold"]
    assert window_s >= settings.connect_attempts * settings.connect_retry_delay_s


@pytest.mark.parametrize("service", SERVICES)
def test_termination_grace_covers_the_drain(docs: list[Manifest], service: str) -> None:
    deployment = named(docs, "Deployment", service)
    container = service_container(docs, service)
    settings = load_settings(SERVICES[service], environment(docs, container))
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    pre_stop_s = int(pre_stop["exec"]["command"][-1]) if "exec" in pre_stop else 0
    needed = pre_stop_s + DRAIN_PHASES[service] * settings.shutdown_grace_s + CLOSE_MARGIN_S
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] >= needed


@pytest.mark.parametrize("service", SERVICES)
def test_disruption_budget_and_spread(docs: list[Manifest], service: str) -> None:
    deployment = named(docs, "Deployment", service)
    labels = pod_labels(deployment)
    budgets = [
        pdb
        for pdb in of_kind(docs, "PodDisruptionBudget")
        if matches(pdb["spec"]["selector"], labels)
    ]
    assert len(budgets) == 1
    spread = pod_spec(deployment).get("topologySpreadConstraints", [])
    keys = {c["topologyKey"] for c in spread if matches(c["labelSelector"], labels)}
    assert {"kubernetes.io/hostname", "topology.kubernetes.io/zone"} <= keys


def test_services_reach_named_container_ports(docs: list[Manifest]) -> None:
    for service in of_kind(docs, "Service"):
        selected = [
            w
            for w in of_kind(docs, "Deployment")
            if matches({"matchLabels": service["spec"]["selector"]}, pod_labels(w))
        ]
        assert len(selected) == 1, service["metadata"]["name"]
        names = {p.get("name") for c in containers(selected[0]) for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in names, service["metadata"]["name"]


def test_production_images_are_pinned() -> None:
    for workload in workloads(build("prod")):
        for container in containers(workload):
            image: str = container["image"]
            assert "@sha256:" in image or (
                ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")
            ), image
