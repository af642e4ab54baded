"""The scrape config finds every service's /metrics; the alert rules and the Grafana dashboard
query only metrics (and labels) the services export, and every alert has a runbook."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections.abc import Iterator
from functools import cache
from types import ModuleType

from deploy.manifests import (
    K8S,
    SERVICES,
    Manifest,
    build,
    matches,
    named,
    pod_labels,
    service_container,
)
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

import herald
import herald_dispatcher
import herald_scheduler
import herald_token_api

PACKAGES: tuple[ModuleType, ...] = (herald, herald_token_api, herald_scheduler, herald_dispatcher)
# Metrics that come from elsewhere: Prometheus itself, and the Kafka Exporter of the Strimzi
# cluster (Kafka CR spec.kafkaExporter).
EXTERNAL = {"up", "kafka_consumergroup_lag"}
# Labels Prometheus adds to every target (PodMonitor: job, namespace, pod, container,
# endpoint, instance and the pod's part-of label).
TARGET_LABELS = {"job", "instance", "namespace", "pod", "container", "endpoint"}
TARGET_LABELS.add("app_kubernetes_io_part_of")
SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",), "summary": ("", "_sum", "_count")}
SUFFIXES["histogram"] = ("_bucket", "_sum", "_count", "_created")
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or"}
KEYWORDS |= {"unless", "bool", "offset", "inf", "nan"}
# What the issue asks each to cover, by the metric that shows it.
ALERTED = {
    "herald_dispatcher_consumer_lag_records": "consumer lag growing",
    "herald_consumer_records_total": "records dead-lettered",
    "herald_dispatcher_fcm_auth_errors_total": "401 / THIRD_PARTY_AUTH_ERROR",
    "herald_scheduler_lateness_seconds_bucket": "scheduler lateness p99 > 1 s",
    "herald_token_api_requests_total": "token-api 5xx",
}
DASHBOARD = {
    "herald_dispatcher_deliveries_total": "send rate by outcome",
    "herald_dispatcher_fcm_latency_seconds_bucket": "FCM latency",
    "herald_scheduler_lateness_seconds_bucket": "scheduler lateness",
    "herald_dispatcher_consumer_lag_records": "consumer lag",
    "herald_token_api_outbox_backlog": "outbox backlog",
}


def _import_all() -> Iterator[ModuleType]:
    for package in PACKAGES:
        yield package
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.endswith("__main__"):
                yield importlib.import_module(info.name)


@cache
def exported() -> dict[str, frozenset[str]]:
    """Every series name the services' code exports, with the label names it carries."""
    labels: dict[str, frozenset[str]] = {}
    for module in _import_all():
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                labels[value._name] = frozenset(value._labelnames)
    series: dict[str, frozenset[str]] = {}
    for family in REGISTRY.collect():
        if family.name.startswith("herald_"):
            names = labels.get(family.name, labels.get(family.name + "_total", frozenset()))
            for suffix in SUFFIXES.get(family.type, ("",)):
                extra = {"le"} if suffix == "_bucket" else set()
                series[family.name + suffix] = names | extra
    return series


def selectors(expr: str) -> Iterator[tuple[str, set[str]]]:
    """(metric name, label names matched) for each series selector of a PromQL expression."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    pattern = r"([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?"
    for match in re.finditer(pattern, text):
        name, matchers, call = match.groups()
        if call or name.lower() in KEYWORDS or name.startswith("$"):
            continue
        yield name, set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", matchers or ""))


def check_expr(expr: str, where: str) -> set[str]:
    series = exported()
    used = set()
    for name, matched in selectors(expr):
        used.add(name)
        if name in EXTERNAL:
            continue
        assert name in series, f"{where}: {name} is exported by no service"
        unknown = matched - series[name] - TARGET_LABELS
        assert not unknown, f"{where}: {name} has no label {unknown}"
    return used


def rules() -> list[Manifest]:
    rule = named(build("prod"), "PrometheusRule", "herald")
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def readme_anchors() -> set[str]:
    text = (K8S / "README.md").read_text()
    headings = re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


def test_the_exported_metrics_are_found() -> None:
    assert set(ALERTED) | set(DASHBOARD) <= set(exported())


def test_alert_rules_query_exported_metrics() -> None:
    used = set()
    for rule in rules():
        used |= check_expr(rule["expr"], rule["alert"])
    assert set(ALERTED) <= used, {m: what for m, what in ALERTED.items() if m not in used}


def test_scheduler_lateness_alert_is_on_the_p99_over_one_second() -> None:
    (late,) = [r for r in rules() if "herald_scheduler_lateness_seconds_bucket" in r["expr"]]
    assert re.search(r"histogram_quantile\(0\.99,", late["expr"])
    assert re.search(r"\)\s*>\s*1\s*$", late["expr"].strip())


def test_every_alert_has_a_runbook_section() -> None:
    anchors = readme_anchors()
    for rule in rules():
        runbook = rule["annotations"]["runbook"]
        path, _, anchor = runbook.partition("#")
        assert path == "deploy/k8s/README.md", rule["alert"]
        assert anchor == rule["alert"].lower(), rule["alert"]
        assert anchor in anchors, rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}


def test_dashboard_queries_exported_metrics() -> None:
    text = (K8S / "monitoring" / "dashboard.json").read_text()
    dashboard = json.loads(text)
    used = set()
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            used |= check_expr(target["expr"], f"panel {panel['title']!r}")
    assert set(DASHBOARD) <= used, {m: what for m, what in DASHBOARD.items() if m not in used}
    shipped = named(build("prod"), "ConfigMap", "herald-grafana-dashboard")
    assert shipped["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert shipped["data"]["herald.json"] == text


def test_pod_monitor_scrapes_every_service() -> None:
    docs = build("prod")
    monitor = named(docs, "PodMonitor", "herald")["spec"]
    (endpoint,) = monitor["podMetricsEndpoints"]
    assert endpoint["path"] == "/metrics"
    for service in SERVICES:
        assert matches(monitor["selector"], pod_labels(named(docs, "Deployment", service)))
        ports = {p["name"] for p in service_container(docs, service)["ports"]}
        assert endpoint["port"] in ports, service
