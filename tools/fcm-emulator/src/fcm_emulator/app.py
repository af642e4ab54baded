"""The aiohttp application: FCM's endpoints, the control API and the browser side."""

from __future__ import annotations

from aiohttp import web

from fcm_emulator import control, fcm_api
from fcm_emulator.browser_api import PREFIX as BROWSER_PREFIX
from fcm_emulator.browser_api import create_browser_app
from fcm_emulator.settings import Settings
from fcm_emulator.state import EMULATOR, Emulator

# Connections waiting to be accepted (the kernel caps it at net.core.somaxconn). A sender opens
# its whole pool at once, hundreds of connections; with aiohttp's 128 the kernel dropped the
# SYNs beyond it, and each of those connections waited a second for its retransmission.
LISTEN_BACKLOG = 4096


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
