"""Progress lines for the terminal, and the error that names the part that failed."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

LOG_TAIL_LINES = 12


class PartFailed(Exception):
    """``part`` (a process or a step) failed; ``log`` is where to look."""

    def __init__(self, part: str, detail: str, log: Path | None = None) -> None:
        super().__init__(f"{part}: {detail}")
        self.part = part
        self.detail = detail
        self.log = log


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


class Progress:
    """Prints ``… step`` when a step starts and ``✓ step (1.2 s)`` when it is done; on a
    terminal the second replaces the first unless something was printed in between."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.live = self.out.isatty()
        self._open: str | None = None

    def say(self, text: str) -> None:
        self._end_open_line()
        print(text, file=self.out, flush=True)

    def _end_open_line(self) -> None:
        if self._open is not None:
            print(file=self.out)
            self._open = None

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        started = time.monotonic()
        if self.live:
            self._end_open_line()
            print(f"  … {what}", end="", file=self.out, flush=True)
            self._open = what
        else:
            self.say(f"  … {what}")
        yield
        done = f"  ✓ {what} ({time.monotonic() - started:.1f} s)"
        if self._open == what:
            print(f"\r\033[K{done}", file=self.out, flush=True)
            self._open = None
        else:
            self.say(done)

    def failed(self, error: PartFailed) -> None:
        self.say(f"  ✗ {error.part} failed: {error.detail}")
        if error.log is not None:
            self.say(f"    its log: {error.log}")
            for line in tail(error.log):
                self.say(f"    | {line}")
