"""Entry point: ``python -m herald_dispatcher`` (or ``herald-dispatcher``)."""

from __future__ import annotations

import asyncio

from herald import lifecycle
from herald.logs import configure_logging
from herald.runtime import tune_gc
from herald_dispatcher.service import Dispatcher
from herald_dispatcher.settings import DispatcherSettings


def main() -> None:
    settings = DispatcherSettings()
    configure_logging("dispatcher", settings.log_level)
    tune_gc(settings.gc_gen0_threshold)

    async def serve(stop: asyncio.Event) -> None:
        await Dispatcher(settings).run(stop)

    lifecycle.run(serve, settings.event_loop)


if __name__ == "__main__":
    main()
