"""The ConfigMaps and Secrets name only settings the services read, keep secrets out of
ConfigMaps, and give each service settings it accepts."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest
from deploy.manifests import (
    CONFIG_MAPS,
    OVERLAYS,
    SERVICES,
    Manifest,
    build,
    env_names,
    env_sources,
    environment,
    load_settings,
    named,
    of_kind,
    pod_spec,
    secret_names,
    service_container,
)

from herald.settings import HeraldSettings
from herald_dispatcher.settings import REAL_FCM_URL, DispatcherSettings
from herald_token_api.settings import TokenApiSettings


@pytest.fixture(params=OVERLAYS)
def docs(request: pytest.FixtureRequest) -> list[Manifest]:
    return build(request.param)


@pytest.mark.parametrize("service", SERVICES)
def test_environment_names_only_real_settings(docs: list[Manifest], service: str) -> None:
    valid = env_names(SERVICES[service])
    for source, variables in env_sources(docs, service_container(docs, service)):
        unknown = set(variables) - valid
        assert not unknown, f"{service}: {source} sets variables no setting reads: {unknown}"


def test_each_config_map_matches_its_settings_table(docs: list[Manifest]) -> None:
    for name, settings in CONFIG_MAPS.items():
        data = named(docs, "ConfigMap", name).get("data", {})
        assert data, name
        unknown = set(data) - env_names(settings)
        assert not unknown, f"ConfigMap {name}: {unknown} are not {settings.__name__} fields"


def test_secrets_stay_out_of_config_maps(docs: list[Manifest]) -> None:
    secret = set().union(*(secret_names(s) for s in CONFIG_MAPS.values()))
    for config_map in of_kind(docs, "ConfigMap"):
        leaked = secret & set(config_map.get("data", {}))
        assert not leaked, f"ConfigMap {config_map['metadata']['name']} holds {leaked}"


@pytest.mark.parametrize("service", SERVICES)
def test_services_accept_their_settings(docs: list[Manifest], service: str) -> None:
    settings = load_settings(SERVICES[service], environment(docs, service_container(docs, service)))
    if isinstance(settings, TokenApiSettings):
        settings.check_auth()


def test_services_share_one_kafka(docs: list[Manifest]) -> None:
    shared = {
        (s.kafka_bootstrap, s.topic_namespace)
        for s in (
            load_settings(HeraldSettings, environment(docs, service_container(docs, service)))
            for service in SERVICES
        )
    }
    assert len(shared) == 1


def test_production_sends_to_real_fcm() -> None:
    docs = build("prod")
    settings = load_settings(
        DispatcherSettings, environment(docs, service_container(docs, "dispatcher"))
    )
    assert settings.fcm_base_url == REAL_FCM_URL
    assert settings.fcm_credentials
    assert not of_kind(docs, "Secret"), "production Secrets are created outside the manifests"


def test_development_sends_to_the_emulator() -> None:
    docs = build("dev")
    settings = load_settings(
        DispatcherSettings, environment(docs, service_container(docs, "dispatcher"))
    )
    emulator = named(docs, "Service", "fcm-emulator")
    (port,) = emulator["spec"]["ports"]
    assert settings.fcm_base_url == f"http://{emulator['metadata']['name']}:{port['port']}"


def test_fcm_credentials_are_mounted_secret_files(docs: list[Manifest]) -> None:
    deployment = named(docs, "Deployment", "dispatcher")
    container = service_container(docs, "dispatcher")
    settings = load_settings(DispatcherSettings, environment(docs, container))
    secret_volumes = {
        v["name"]: v["secret"]["secretName"]
        for v in pod_spec(deployment)["volumes"]
        if "secret" in v
    }
    mounts = {
        PurePosixPath(m["mountPath"]): secret_volumes[m["name"]]
        for m in container["volumeMounts"]
        if m["name"] in secret_volumes
    }
    for project, path in settings.fcm_credentials.items():
        folder = PurePosixPath(path).parent
        assert folder in mounts, f"{project}: {path} is not in a mounted Secret"
        assert PurePosixPath(path).name == f"{project}.json"
