"""Entry point: ``python -m herald_scheduler`` (or ``herald-scheduler``)."""

from __future__ import annotations

import asyncio

from herald import lifecycle
from herald.logs import configure_logging
from herald.runtime import tune_gc
from herald_scheduler.service import Scheduler
from herald_scheduler.settings import SchedulerSettings


def main() -> None:
    settings = SchedulerSettings()
    configure_logging("scheduler", settings.log_level)
    tune_gc(settings.gc_gen0_threshold)

    async def serve(stop: asyncio.Event) -> None:
        await Scheduler(settings).run(stop)

    lifecycle.run(serve, settings.event_loop)


if __name__ == "__main__":
    main()
