"""The aiohttp application: FCM's endpoints, the control API and the browser side."""

from __future__ import annotations

from aiohttp import web

from fcm_emulator import control, fcm_api
from fcm_emulator.browser_api import PREFIX as BROWSER_PREFIX
from fcm_emulator.browser_api import create_browser_app
from fcm_emulator.settings import Settings
from fcm_emulator.state import EMULATOR, Emulator


async def _end_streams(app: web.Application) -> None:
    app[EMULATOR].hub.close_all()


def create_app(settings: Settings) -> web.Application:
    app = web.Application()
    app[EMULATOR] = Emulator.from_settings(settings)
    fcm_api.add_routes(app)
    control.add_routes(app)
    app.add_subapp(BROWSER_PREFIX, create_browser_app())
    app.on_shutdown.append(_end_streams)
    return app
