"""The fault suite's table: one row per scenario, in markdown, written to a file after every
scenario (a partial run still leaves its rows) and printed at the end of the session."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from faults.ledger import Tally

from herald_dev.layout import find_root

REPORT_ENV = "HERALD_FAULTS_REPORT"
COMMAND = "make test-faults  # = uv run pytest tests/faults"
HEADER = (
    "| scenario | requested | delivered | lost | dup | replaced | early | after expiry "
    "| expired (reported) "
    "| refused | lateness p50 / p99 / max ms | fault s | recovery s | notes |"
)


@dataclass(frozen=True)
class Row:
    scenario: str
    tally: Tally
    fault_s: float
    recovery_s: float
    notes: str = ""
    injected_at: float = 0.0

    @property
    def must_be_zero(self) -> dict[str, int]:
        t = self.tally
        return {
            "lost": t.lost,
            "delivered twice": t.duplicates,
            "early": t.early,
            "after expiry": t.after_expiry,
            "unrequested": t.unrequested,
        }

    def line(self) -> str:
        t = self.tally
        notes = self.notes
        if t.after_expiry:
            notes = f"after expiry by up to {t.after_expiry_max_ms} ms; {notes}"
        if t.unrequested:
            notes = f"{t.unrequested} unrequested sends; {notes}"
        if t.lost_examples:
            notes = f"lost e.g. {', '.join(t.lost_examples)}; {notes}"
        return (
            f"| {self.scenario} | {t.requested} | {t.delivered} | {t.lost} | {t.duplicates} "
            f"| {t.replaced} | {t.early} | {t.after_expiry} | {t.expired} | {t.refused} "
            f"| {t.p50_ms} / {t.p99_ms} / {t.max_ms} | {self.fault_s:.1f} "
            f"| {self.recovery_s:.1f} | {notes} |"
        )


def report_path() -> Path:
    configured = os.environ.get(REPORT_ENV)
    if configured:
        return Path(configured)
    return find_root(Path(__file__).parent) / ".herald" / "faults" / "latest.md"


def _commit() -> str:
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=find_root(Path(__file__).parent),
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return found.stdout.strip() or "unknown"


class Report:
    """Rows collected by the scenarios of this session."""

    def __init__(self, load_summary: str) -> None:
        self.load_summary = load_summary
        self.rows: list[Row] = []
        self.started = datetime.now(UTC)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        self.write()

    def markdown(self) -> str:
        when = self.started.strftime("%Y-%m-%d %H:%M UTC")
        lines = [
            f"Fault suite run of {when}, commit {_commit()}, {os.cpu_count()} CPUs "
            f"({platform.machine()}), command: `{COMMAND}`.",
            "",
            f"Load per scenario: {self.load_summary}",
            "",
            HEADER,
            "|" + " --- |" * HEADER.count(" | ") + " --- |",
            *(row.line() for row in self.rows),
            "",
        ]
        return "\n".join(lines)

    def write(self) -> Path:
        path = report_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.markdown())
        return path
