"""The aiohttp application: routes, middlewares, and the resources and background loops opened
in ``cleanup_ctx`` (closed in reverse order on shutdown)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from herald import lifecycle
from herald.health import add_health_routes
from herald_token_api import db, invalidations, pruner, routes_service, routes_user
from herald_token_api.auth import Authenticator
from herald_token_api.kafka import KafkaLink
from herald_token_api.migrate import migrate
from herald_token_api.observe import edge_middleware
from herald_token_api.openapi import OPERATIONS_PATHS, document, openapi_handler
from herald_token_api.registrar import Registrar
from herald_token_api.relay import Relay, watch_backlog
from herald_token_api.settings import TokenApiSettings
from herald_token_api.state import AUTH, KAFKA, POOL, REGISTRAR, SETTINGS

ENDPOINTS = [*routes_user.ENDPOINTS, *routes_service.ENDPOINTS]


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    pool = await db.open_pool(settings)
    try:
        if settings.migrate_on_start:
            connection = await db.connect(settings)
            try:
                await migrate(connection)
            finally:
                await connection.close()
        app[POOL] = pool
        app[REGISTRAR] = Registrar(pool, settings.max_targets_per_user)
        yield
    finally:
        await pool.close()


async def _auth(app: web.Application) -> AsyncIterator[None]:
    await app[AUTH].start()
    yield
    await app[AUTH].stop()


async def _kafka(app: web.Application) -> AsyncIterator[None]:
    app[KAFKA] = KafkaLink(app[SETTINGS])
    yield
    await app[KAFKA].stop()


async def _background(app: web.Application) -> AsyncIterator[None]:
    """Kafka connection, outbox relay, invalidation consumer, pruner and backlog gauge."""
    settings, pool, kafka = app[SETTINGS], app[POOL], app[KAFKA]
    stop = asyncio.Event()
    jobs = {
        "kafka": kafka.connect(stop),
        "relay": Relay(settings, kafka).run(stop),
        "invalidations": invalidations.consume(settings, pool, kafka, stop),
        "pruner": pruner.run(pool, settings.prune_after_days, settings.prune_interval_s, stop),
        "backlog": watch_backlog(pool, settings.relay_poll_interval_s, stop),
    }
    tasks = {asyncio.create_task(job, name=name) for name, job in jobs.items()}
    yield
    stop.set()
    await lifecycle.drain(tasks, settings.shutdown_grace_s, "background jobs")


def create_app(settings: TokenApiSettings) -> web.Application:
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[edge_middleware(settings.cors_origins)],
    )
    app[SETTINGS] = settings
    app[AUTH] = Authenticator(settings)
    app.cleanup_ctx.extend([_database, _auth, _kafka, _background])
    for endpoint in ENDPOINTS:
        app.router.add_route(endpoint.method, endpoint.route_path(), endpoint.handler)

    async def postgres_ready() -> None:
        await db.ping(app[POOL], settings.db_timeout_s)

    add_health_routes(app, {"postgres": postgres_ready})
    app.router.add_get("/openapi.json", openapi_handler(document(ENDPOINTS, OPERATIONS_PATHS)))
    return app
