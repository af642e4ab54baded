"""The benchmark runner end to end at smoke size: ``python -m bench --quick`` runs every
benchmark against the real local Kafka, Redis and PostgreSQL, and writes a report whose every
row holds a measured number, with its plots. Not a measurement: it proves ``make bench`` works."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = {
    "dispatcher": "## Dispatcher",
    "scheduler": "## Scheduler",
    "token_api": "## Token-api",
    "e2e": "## End to end",
}
PLOTS = ("dispatcher_inflight", "scheduler_lateness_cdf", "token_api", "e2e_lateness_cdf")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def section_rows(report: str, heading: str) -> list[list[str]]:
    """The cells of the measurement table under ``heading``, the section's first table (its
    header and rule left out; the hand-written notes below it may have tables of their own)."""
    body = report.split(heading, 1)[1].split("\n## ", 1)[0]
    lines = body.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("| ")), len(lines))
    rows = list(itertools.takewhile(lambda line: line.startswith("| "), lines[start:]))
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def median_of(cell: str) -> float:
    found = re.match(r"^(-?[\d,]+(?:\.\d+)?) ", cell)
    assert found, f"no number in {cell!r}"
    return float(found[1].replace(",", ""))


@pytest.mark.timeout(300)
def test_quick_run_writes_a_report_with_a_measured_row_per_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"^\[\d+/\d+\] ", done.stdout, re.MULTILINE), "no progress lines"

    report = out.read_text()
    assert "## Failed" not in report
    assert "| cores | " in report
    assert "| git commit | " in report
    for bench, heading in SECTIONS.items():
        rows = section_rows(report, heading)
        assert rows, f"{bench}: no rows"
        for cells in rows:
            label, median = cells[0], cells[1]
            assert median != "not measured", f"{bench}: {label} was not measured"
            if label.startswith(("floor", "dispatcher x1 CPU", "raw aiohttp loop CPU")):
                continue  # can round to 0 on a quiet machine; the rows below may not
            assert median_of(median) > 0, f"{bench}: {label} = {median}"
        assert "What limits it" in report.split(heading, 1)[1]

    for name in PLOTS:
        plot = tmp_path / "bench" / "plots" / f"{name}.png"
        assert plot.read_bytes().startswith(PNG_SIGNATURE), f"{plot} is not a PNG"
        assert f"bench/plots/{name}.png" in report
