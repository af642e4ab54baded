"""``herald-token-api [serve]`` runs the API; ``herald-token-api migrate`` applies migrations."""

from __future__ import annotations

import argparse
import asyncio
import logging

from aiohttp import web

from herald import lifecycle
from herald.logs import configure_logging
from herald.runtime import tune_gc
from herald_token_api import db
from herald_token_api.app import create_app
from herald_token_api.migrate import migrate
from herald_token_api.settings import TokenApiSettings

log = logging.getLogger("herald_token_api")


async def serve(stop: asyncio.Event) -> None:
    settings = TokenApiSettings()
    runner = web.AppRunner(
        create_app(settings), access_log=None, shutdown_timeout=settings.shutdown_grace_s
    )
    await runner.setup()
    try:
        site = web.TCPSite(
            runner, settings.http_host, settings.http_port, backlog=settings.http_backlog
        )
        await site.start()
        log.info("serving", extra={"host": settings.http_host, "port": settings.http_port})
        await stop.wait()
    finally:
        await runner.cleanup()
    log.info("stopped")


async def run_migrations() -> None:
    connection = await db.connect(TokenApiSettings())
    try:
        applied = await migrate(connection)
    finally:
        await connection.close()
    log.info("migrations applied: %s", applied or "none pending")


def main() -> None:
    parser = argparse.ArgumentParser(prog="herald-token-api", description=__doc__)
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    command = parser.parse_args().command
    settings = TokenApiSettings()
    configure_logging("token-api", settings.log_level)
    if command == "migrate":
        asyncio.run(run_migrations())
        return
    tune_gc(settings.gc_gen0_threshold)
    lifecycle.run(serve, settings.event_loop)


if __name__ == "__main__":
    main()
