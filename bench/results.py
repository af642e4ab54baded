"""The machine-readable output of one benchmark (``--json PATH``): every figure of every run,
the rows the report shows, the sizes used, and distributions for the plots.

A bench measures; it does not summarise. The runner reads these files, takes medians and
spreads across runs, and works out each row's ratio to its baseline *run by run*, because the
two were measured back to back under the same load from the other tenants of the machine.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Goal:
    """A target from the issue, on the row's median value or on its ratio to the baseline."""

    text: str
    on: str = "ratio"  # "ratio" or "value"
    at_least: float | None = None
    at_most: float | None = None

    def met(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.at_least is not None and value < self.at_least:
            return False
        return not (self.at_most is not None and value > self.at_most)


@dataclass(frozen=True)
class Row:
    """One line of the report: the figure ``key`` and, unless it is a baseline itself, the
    ``baseline`` figure it is divided by in the same run."""

    key: str
    label: str
    unit: str
    baseline: str | None = None
    goal: Goal | None = None
    digits: int = 0


@dataclass
class Results:
    bench: str
    title: str
    command: str
    sizes: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    # key -> {run number: value}; a figure measured once has only run 1.
    samples: dict[str, dict[int, float]] = field(default_factory=dict)
    # name -> values (for instance sorted lateness in ms), drawn by the plots.
    series: dict[str, list[float]] = field(default_factory=dict)
    remarks: list[str] = field(default_factory=list)

    def add(self, key: str, run: int, value: float) -> None:
        self.samples.setdefault(key, {})[run] = float(value)

    def values(self, key: str) -> dict[int, float]:
        return self.samples.get(key, {})

    def to_json(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "title": self.title,
            "command": self.command,
            "sizes": self.sizes,
            "rows": [asdict(row) for row in self.rows],
            "samples": {
                k: {str(r): v for r, v in runs.items()} for k, runs in self.samples.items()
            },
            "series": self.series,
            "remarks": self.remarks,
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1))

    @classmethod
    def read(cls, path: Path) -> Results:
        obj = json.loads(path.read_text())
        rows = []
        for row in obj["rows"]:
            goal = row.pop("goal")
            rows.append(Row(**row, goal=Goal(**goal) if goal else None))
        return cls(
            bench=obj["bench"],
            title=obj["title"],
            command=obj["command"],
            sizes=obj["sizes"],
            rows=rows,
            samples={
                k: {int(r): float(v) for r, v in runs.items()} for k, runs in obj["samples"].items()
            },
            series={k: [float(v) for v in vs] for k, vs in obj["series"].items()},
            remarks=list(obj["remarks"]),
        )
