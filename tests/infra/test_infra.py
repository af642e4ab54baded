"""The local infrastructure scripts: idempotent start, truthful status."""

from __future__ import annotations

import subprocess
from pathlib import Path

INFRA = Path(__file__).resolve().parents[2] / "deploy" / "local" / "infra.sh"


def infra(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(INFRA), *args], capture_output=True, text=True, timeout=180, check=False
    )


def status_of(output: str) -> dict[str, str]:
    return {line.split()[0]: line.split()[1] for line in output.splitlines() if line.strip()}


def test_infra_up_again_finds_everything_running_and_starts_nothing() -> None:
    result = infra("up")
    assert result.returncode == 0, result.stderr
    for component in ("postgres", "redis", "kafka"):
        assert f"{component} already running" in result.stdout
    assert "formatting" not in result.stdout
    assert "fetching" not in result.stdout


def test_infra_status_reports_a_stopped_component_as_down() -> None:
    assert status_of(infra("status").stdout) == {"postgres": "up", "redis": "up", "kafka": "up"}
    assert infra("down", "redis").returncode == 0
    try:
        result = infra("status")
        assert result.returncode == 1
        assert status_of(result.stdout) == {"postgres": "up", "redis": "down", "kafka": "up"}
        assert "redis.log" in result.stdout
    finally:
        restarted = infra("up", "redis")
    assert restarted.returncode == 0, restarted.stderr
    assert status_of(infra("status").stdout)["redis"] == "up"


def test_unknown_component_is_a_clear_error() -> None:
    result = infra("up", "zookeeper")
    assert result.returncode == 1
    assert "unknown component 'zookeeper'" in result.stderr
