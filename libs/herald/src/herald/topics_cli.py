"""``herald-topics``: create or update Herald's Kafka topics, idempotently."""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import replace

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from herald.settings import HeraldSettings
from herald.topics import ALL_TOPICS, Topic


async def describe(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    """Current configuration of each topic (only values set on the topic itself)."""
    resources = [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
    result: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for _code, _msg, _type, name, entries in response.resources:
            result[name] = {entry[0]: entry[1] for entry in entries}
    return result


TOPIC_ALREADY_EXISTS = 36
LEADERS_TIMEOUT_S = 30.0


async def wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    """Wait until every partition of ``names`` has a leader, so the topics are usable at once."""
    deadline = time.monotonic() + LEADERS_TIMEOUT_S
    while True:
        metadata = await admin.describe_topics(names)
        ready = len(metadata) == len(names) and all(
            m["error_code"] == 0
            and m["partitions"]
            and all(p["error_code"] == 0 and p["leader"] >= 0 for p in m["partitions"])
            for m in metadata
        )
        if ready:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics without leaders after {LEADERS_TIMEOUT_S}s: {names}")
        await asyncio.sleep(0.1)


async def apply(
    bootstrap: str,
    replication_factor: int = 1,
    namespace: str = "",
    declared: tuple[Topic, ...] = ALL_TOPICS,
) -> None:
    """Create missing topics; bring the configuration and partition count of existing ones up to
    the declarations (partitions are only ever added: Kafka cannot remove them)."""
    declared = tuple(replace(t, name=namespace + t.name) for t in declared)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="herald-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in declared if t.name not in existing]
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(t.name, t.partitions, replication_factor, topic_configs=t.config())
                    for t in missing
                ]
            )
            for name, code, *message in response.topic_errors:
                if code not in (0, TOPIC_ALREADY_EXISTS):
                    raise RuntimeError(f"creating {name} failed: error {code} {message}")
            await wait_for_leaders(admin, [t.name for t in missing])
        for t in missing:
            policy = t.config()["cleanup.policy"]
            print(f"{t.name}: created ({t.partitions} partitions, {policy})", flush=True)
        present = [t for t in declared if t.name in existing]
        if not present:
            return
        current = await describe(admin, [t.name for t in present])
        metadata = await admin.describe_topics([t.name for t in present])
        partitions = {m["topic"]: len(m["partitions"]) for m in metadata}
        for t in present:
            changes = {k: v for k, v in t.config().items() if current.get(t.name, {}).get(k) != v}
            if changes:
                # AlterConfigs replaces the topic's whole config: send all of it.
                await admin.alter_configs(
                    [ConfigResource(ConfigResourceType.TOPIC, t.name, configs=t.config())]
                )
            if partitions.get(t.name, 0) < t.partitions:
                await admin.create_partitions({t.name: NewPartitions(t.partitions)})
            what = ", ".join(f"{k}={v}" for k, v in changes.items()) or "up to date"
            print(f"{t.name}: {what}", flush=True)
    finally:
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["apply"], help="create missing topics, update configs")
    settings = HeraldSettings()
    parser.add_argument("--bootstrap", default=settings.kafka_bootstrap)
    parser.add_argument("--replication-factor", type=int, default=settings.kafka_replication_factor)
    parser.add_argument("--namespace", default=settings.topic_namespace)
    args = parser.parse_args()
    asyncio.run(apply(args.bootstrap, args.replication_factor, args.namespace))


if __name__ == "__main__":
    main()
