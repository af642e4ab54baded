"""A stand-in for the desktop's notification server: ``org.freedesktop.Notifications`` on a
private DBus session bus. Chromium on Linux shows web notifications through it, so a test sees
what reached the screen, and clicks a notification as a person would: Chromium then fires a
trusted ``notificationclick`` in the service worker (one that may open a window)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from dbus_next.aio.message_bus import MessageBus
from dbus_next.constants import MessageType
from dbus_next.message import Message

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
DEFAULT_ACTION = "default"
CLOSED_BY_USER = 2
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@dataclass
class Shown:
    """A notification as the desktop got it."""

    id: int
    app_name: str
    summary: str
    body: str
    actions: list[str]
    closed: bool = False


@dataclass
class NotificationServer:
    bus: MessageBus
    shown: list[Shown] = field(default_factory=list)

    def handle(self, message: Message) -> Message | None:
        if message.message_type != MessageType.METHOD_CALL or message.interface != NAME:
            return None
        if message.member == "GetCapabilities":
            return Message.new_method_return(message, "as", [["actions", "body", "persistence"]])
        if message.member == "GetServerInformation":
            return Message.new_method_return(
                message, "ssss", ["herald-tests", "herald", "1.0", "1.2"]
            )
        if message.member == "Notify":
            app_name, replaces_id, _icon, summary, body, actions, _hints, _timeout = message.body
            notification_id = replaces_id or len(self.shown) + 1
            self.shown.append(Shown(notification_id, app_name, summary, body, list(actions)))
            return Message.new_method_return(message, "u", [notification_id])
        if message.member == "CloseNotification":
            for shown in self.shown:
                if shown.id == message.body[0]:
                    shown.closed = True
            return Message.new_method_return(message)
        return None

    def click(self, shown: Shown) -> None:
        """What a desktop sends when the notification's body is clicked."""
        for member, signature, body in (
            ("ActionInvoked", "us", [shown.id, DEFAULT_ACTION]),
            ("NotificationClosed", "uu", [shown.id, CLOSED_BY_USER]),
        ):
            self.bus.send(Message.new_signal(PATH, NAME, member, signature, body))
        shown.closed = True

    async def wait_for(self, matches: Callable[[Shown], bool], timeout_s: float) -> Shown:
        deadline = time.monotonic() + timeout_s
        while True:
            for shown in self.shown:
                if matches(shown):
                    return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"no such notification on screen within {timeout_s} s")
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def desktop_notifications(folder: Path) -> AsyncIterator[tuple[str, NotificationServer]]:
    """A private session bus (no service activation) with the notification server on it;
    yields the bus address for ``DBUS_SESSION_BUS_ADDRESS`` and the server."""
    socket = folder / "bus"
    config = folder / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=socket))
    daemon = await asyncio.create_subprocess_exec(
        "dbus-daemon",
        f"--config-file={config}",
        "--nofork",
        "--nopidfile",
        "--print-address",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert daemon.stdout is not None
        address = (await asyncio.wait_for(daemon.stdout.readline(), 10)).decode().strip()
        bus = await MessageBus(bus_address=address).connect()
        try:
            server = NotificationServer(bus)
            bus.add_message_handler(server.handle)
            await bus.request_name(NAME)
            yield address, server
        finally:
            bus.disconnect()  # type: ignore[no-untyped-call]
    finally:
        daemon.terminate()
        await daemon.wait()
