"""What the numbers were measured on: cores, memory, load, Python, the infrastructure's
versions, the packages that matter, and the git commit (with a mark when the tree was dirty)."""

from __future__ import annotations

import asyncio
import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

import asyncpg  # type: ignore[import-untyped,unused-ignore]
from redis.asyncio import Redis

from bench.common import BOOTSTRAP, REDIS_BASE_URL
from herald_token_api.settings import TokenApiSettings

PACKAGES = ("aiokafka", "firebase-admin", "redis", "asyncpg", "aiohttp", "protobuf")
ROOT = Path(__file__).resolve().parents[1]


def memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return float("nan")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def kafka_version() -> str:
    """From the jars of the running broker that listens on our bootstrap port, else the pin."""
    port = BOOTSTRAP.rsplit(":", 1)[-1]
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv if a]
        if "kafka.Kafka" not in args or not args[-1].endswith(".properties"):
            continue
        try:
            if f":{port}" not in Path(args[-1]).read_text():
                continue
        except OSError:
            continue
        for jar in Path(args[-1]).parent.glob("libs/kafka-clients-*.jar"):
            return jar.stem.removeprefix("kafka-clients-")
    pom = (ROOT / "deploy/local/kafka/pom.xml").read_text()
    found = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    return f"{found.group(1)} (pinned)" if found else "unknown"


async def redis_version() -> str:
    redis = Redis.from_url(REDIS_BASE_URL)
    try:
        return str((await redis.info("server"))["redis_version"])
    finally:
        await redis.aclose()


async def postgres_version() -> str:
    connection = await asyncpg.connect(TokenApiSettings().database_url.get_secret_value())
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{commit} (with uncommitted changes)" if dirty else commit


async def describe() -> dict[str, str]:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    info = {
        "cores": str(os.cpu_count()),
        "cpu": cpu_model(),
        "memory": f"{memory_gib():.1f} GiB",
        "load average at start (1, 5, 15 min)": load,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Kafka": kafka_version(),
        "Redis": await redis_version(),
        "PostgreSQL": await postgres_version(),
    }
    for package in PACKAGES:
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = "not installed"
    info["git commit"] = git_commit()
    return info


if __name__ == "__main__":
    for key, value in asyncio.run(describe()).items():
        print(f"{key}: {value}")
