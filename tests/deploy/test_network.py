"""NetworkPolicies: Herald's pods start from deny-all; only the gateway (and Prometheus) reach
the token-api; only the services that need PostgreSQL, Redis, Kafka and FCM reach them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from deploy.manifests import (
    OVERLAYS,
    SERVICES,
    Manifest,
    build,
    matches,
    named,
    of_kind,
    pod_labels,
    resolve_port,
    service_container,
)

POSTGRES, REDIS, KAFKA, HTTPS = 5432, 6379, 9092, 443


@pytest.fixture(params=OVERLAYS)
def docs(request: pytest.FixtureRequest) -> list[Manifest]:
    return build(request.param)


def policies_for(docs: list[Manifest], labels: dict[str, str], kind: str) -> Iterator[Manifest]:
    for policy in of_kind(docs, "NetworkPolicy"):
        spec = policy["spec"]
        if kind in spec.get("policyTypes", []) and matches(spec["podSelector"], labels):
            yield policy


def allows_port(rule: Manifest, port: int, container: Manifest | None = None) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    for entry in ports:
        value = entry.get("port")
        if value is None:
            return True
        if isinstance(value, str):
            if container is None:
                continue
            value = resolve_port(container, value)
        if value == port:
            return True
    return False


def egress_to(docs: list[Manifest], port: int, *, internet: bool = False) -> set[str]:
    """The services with an egress rule to ``port`` (only rules to an ipBlock, if ``internet``)."""
    allowed = set()
    for service in SERVICES:
        labels = pod_labels(named(docs, "Deployment", service))
        for policy in policies_for(docs, labels, "Egress"):
            for rule in policy["spec"].get("egress", []):
                peers = rule.get("to", [])
                reaches = any("ipBlock" in p for p in peers) if internet else bool(peers)
                if reaches and allows_port(rule, port):
                    allowed.add(service)
    return allowed


def test_herald_pods_default_to_deny(docs: list[Manifest]) -> None:
    for service in SERVICES:
        labels = pod_labels(named(docs, "Deployment", service))
        deny = [
            p
            for p in policies_for(docs, labels, "Ingress")
            if "Egress" in p["spec"]["policyTypes"]
            and not p["spec"].get("ingress")
            and not p["spec"].get("egress")
        ]
        assert deny, service


def test_only_the_gateway_and_prometheus_reach_the_token_api(docs: list[Manifest]) -> None:
    labels = pod_labels(named(docs, "Deployment", "token-api"))
    peers = []
    for policy in policies_for(docs, labels, "Ingress"):
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from"), f"{policy['metadata']['name']} admits everyone"
            peers.extend(rule["from"])
    names = set()
    for peer in peers:
        assert set(peer) == {"namespaceSelector", "podSelector"}, peer
        names.add(peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"])
    assert names == {"gateway", "prometheus"}


def test_prometheus_reaches_the_metrics_port(docs: list[Manifest]) -> None:
    for service in SERVICES:
        container = service_container(docs, service)
        labels = pod_labels(named(docs, "Deployment", service))
        metrics_port = resolve_port(container, "http")
        scraped = [
            rule
            for policy in policies_for(docs, labels, "Ingress")
            for rule in policy["spec"].get("ingress", [])
            if any(
                p.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
                == "prometheus"
                for p in rule.get("from", [])
            )
            and allows_port(rule, metrics_port, container)
        ]
        assert scraped, service


def test_dependencies_are_reached_only_by_their_users(docs: list[Manifest]) -> None:
    assert egress_to(docs, POSTGRES) == {"token-api"}
    assert egress_to(docs, REDIS) == {"scheduler", "dispatcher"}
    assert egress_to(docs, KAFKA) == set(SERVICES)
    internet = egress_to(docs, HTTPS, internet=True)
    assert "dispatcher" in internet
    assert "scheduler" not in internet


def test_development_infrastructure_admits_only_its_users() -> None:
    docs = build("dev")
    expected = {"postgres": {"token-api"}, "redis": {"scheduler", "dispatcher"}}
    expected["fcm-emulator"] = {"dispatcher"}
    for target, users in expected.items():
        labels = pod_labels(named(docs, "Deployment", target))
        admitted = set()
        for policy in policies_for(docs, labels, "Ingress"):
            for rule in policy["spec"].get("ingress", []):
                assert rule.get("from"), f"{policy['metadata']['name']} admits everyone"
                for peer in rule["from"]:
                    admitted |= {
                        s
                        for s in SERVICES
                        if matches(peer["podSelector"], pod_labels(named(docs, "Deployment", s)))
                    }
        assert admitted == users, target
