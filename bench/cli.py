"""The command line every benchmark shares: ``--repeat N`` and ``--json PATH``, and a plan of
named steps, so the runner can count the steps before it starts and show each as it begins."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from bench.common import step
from bench.results import Results

C = TypeVar("C")


@dataclass(frozen=True)
class Step(Generic[C]):
    label: str
    run: Callable[[C], Awaitable[None]]


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    parser.add_argument("--json", type=Path, help="write every figure of every run here")


def runs(repeat: int) -> list[tuple[int, str]]:
    """(run number, "run i/n") for each repeat."""
    return [(r, f"run {r}/{repeat}") for r in range(1, repeat + 1)]


async def execute(plan: list[Step[C]], context: C) -> None:
    for item in plan:
        step(item.label)
        await item.run(context)


def command_line(module: str) -> str:
    """The command that reproduces this run (less ``--json``), for the report."""
    argv, skip = [], False
    for arg in sys.argv[1:]:
        if skip or arg.startswith("--json="):
            skip = False
            continue
        if arg == "--json":
            skip = True
            continue
        argv.append(arg)
    return shlex.join(["uv", "run", "python", "-m", module, *argv])


def finish(results: Results, json_path: Path | None) -> None:
    """Write the JSON file when asked; always print each figure's runs for a person."""
    if json_path is not None:
        results.write(json_path)
    for key, values in results.samples.items():
        shown = ", ".join(f"{v:.6g}" for _, v in sorted(values.items()))
        print(f"{key:<48} {shown}")
