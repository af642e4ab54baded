"""The Strimzi KafkaTopics are the code's topic table: base/topics.yaml is what
``herald-topics strimzi`` prints, and each overlay deploys exactly those topics."""

from __future__ import annotations

import sys

import pytest
import yaml
from deploy.manifests import (
    K8S,
    OVERLAYS,
    build,
    environment,
    load_settings,
    of_kind,
    service_container,
)

from herald import topics_cli
from herald.settings import HeraldSettings
from herald.topics import ALL_TOPICS

PRODUCTION_REPLICAS = 3


def test_committed_topics_are_the_generated_ones() -> None:
    committed = (K8S / "base" / "topics.yaml").read_text()
    assert committed == topics_cli.strimzi(namespace="", replicas=PRODUCTION_REPLICAS), (
        "regenerate: uv run herald-topics strimzi --replicas 3 --namespace-prefix '' "
        "> deploy/k8s/base/topics.yaml"
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_topics_match_the_topic_table(overlay: str) -> None:
    docs = build(overlay)
    settings = load_settings(
        HeraldSettings, environment(docs, service_container(docs, "dispatcher"))
    )
    deployed = {t["spec"]["topicName"]: t for t in of_kind(docs, "KafkaTopic")}
    assert set(deployed) == {settings.topic_namespace + t.name for t in ALL_TOPICS}
    for topic in ALL_TOPICS:
        manifest = deployed[settings.topic_namespace + topic.name]
        cluster = manifest["metadata"]["labels"]["strimzi.io/cluster"]
        assert settings.kafka_bootstrap.startswith(f"{cluster}-kafka-bootstrap"), cluster
        assert manifest["spec"]["partitions"] == topic.partitions
        assert manifest["spec"]["config"] == topic.config()
        expected = PRODUCTION_REPLICAS if overlay == "prod" else 1
        assert manifest["spec"]["replicas"] == expected


def test_strimzi_command_prints_prefixed_valid_names(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        sys,
        "argv",
        ["herald-topics", "strimzi", "--namespace-prefix", "Test_1.", "--replicas", "2"],
    )
    topics_cli.main()
    documents = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    assert [d["spec"]["topicName"] for d in documents] == [f"Test_1.{t.name}" for t in ALL_TOPICS]
    for document in documents:
        assert document["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert document["spec"]["replicas"] == 2
        assert document["metadata"]["name"] == "test-1." + document["spec"]["topicName"][7:]
