"""Scaling stays within the partitions of the topics each service consumes."""

from __future__ import annotations

import pytest
from deploy.manifests import (
    OVERLAYS,
    Manifest,
    build,
    environment,
    load_settings,
    named,
    service_container,
)

from herald import topics
from herald_dispatcher.settings import DispatcherSettings


@pytest.fixture(params=OVERLAYS)
def docs(request: pytest.FixtureRequest) -> list[Manifest]:
    return build(request.param)


def test_dispatcher_scales_on_the_lag_of_due_notifications(docs: list[Manifest]) -> None:
    scaled = named(docs, "ScaledObject", "dispatcher")
    settings = load_settings(
        DispatcherSettings, environment(docs, service_container(docs, "dispatcher"))
    )
    spec = scaled["spec"]
    assert spec["scaleTargetRef"]["name"] == "dispatcher"
    assert spec["maxReplicaCount"] == topics.NOTIFICATIONS_DUE.partitions
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "kafka"
    metadata = trigger["metadata"]
    assert metadata["topic"] == settings.topic_namespace + topics.NOTIFICATIONS_DUE.name
    assert metadata["consumerGroup"] == settings.send_group_id
    assert metadata["bootstrapServers"] == settings.kafka_bootstrap
    assert "replicas" not in named(docs, "Deployment", "dispatcher")["spec"], "KEDA owns it"


def test_scheduler_replicas_are_bounded_by_reminder_partitions(docs: list[Manifest]) -> None:
    replicas = named(docs, "Deployment", "scheduler")["spec"]["replicas"]
    assert 1 <= replicas <= topics.REMINDERS.partitions


def test_token_api_scales_on_cpu(docs: list[Manifest]) -> None:
    hpa = named(docs, "HorizontalPodAutoscaler", "token-api")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "token-api",
    }
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]
    assert "replicas" not in named(docs, "Deployment", "token-api")["spec"], "the HPA owns it"
