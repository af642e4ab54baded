"""Entry point of the scheduler (its work is not built yet: it serves health and metrics only)."""

from __future__ import annotations

import asyncio

from herald import lifecycle
from herald.health import HealthServer
from herald.logs import configure_logging
from herald.settings import HeraldSettings


async def serve(stop: asyncio.Event) -> None:
    settings = HeraldSettings()
    server = HealthServer(settings.health_host, settings.health_port, {})
    await server.start()
    try:
        await stop.wait()
    finally:
        await server.stop()


def main() -> None:
    settings = HeraldSettings()
    configure_logging("scheduler", settings.log_level)
    lifecycle.run(serve)


if __name__ == "__main__":
    main()
