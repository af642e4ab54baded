"""A scheduler process that takes due reminders and then hangs before publishing them, so a
test can kill it with SIGKILL between take and publish. It writes "taken" to the file named
by its first argument when that point is reached."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from herald import lifecycle, topics
from herald.logs import configure_logging
from herald_scheduler.publisher import BatchProducer, OutRecord
from herald_scheduler.service import Scheduler
from herald_scheduler.settings import SchedulerSettings


class StallingProducer(BatchProducer):
    def __init__(self, marker: Path, settings: SchedulerSettings) -> None:
        super().__init__(settings.kafka_bootstrap, namespace=settings.topic_namespace)
        self._marker = marker

    async def send_many(
        self, topic: topics.Topic, records: Sequence[OutRecord], *, partition: int | None = None
    ) -> list[int]:
        if topic == topics.NOTIFICATIONS_DUE:
            self._marker.write_text("taken")
            await asyncio.Event().wait()
        return await super().send_many(topic, records, partition=partition)


def main() -> None:
    settings = SchedulerSettings()
    configure_logging("stalling-scheduler", settings.log_level)

    async def serve(stop: asyncio.Event) -> None:
        producer = StallingProducer(Path(sys.argv[1]), settings)
        await Scheduler(settings, producer=producer).run(stop)

    lifecycle.run(serve)


if __name__ == "__main__":
    main()
