"""What the kernel says about a listening socket."""

from __future__ import annotations

import subprocess
from pathlib import Path


def listen_queue(port: int) -> int | None:
    """The size of the queue of connections waiting to be accepted on ``port`` (None while
    nothing listens there): for a listening socket, ss shows it in the Send-Q column."""
    listening = subprocess.run(
        ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return int(listening.split()[2]) if listening else None


def somaxconn() -> int:
    """The kernel's cap on every listening queue."""
    return int(Path("/proc/sys/net/core/somaxconn").read_text())
