"""``python -m bench``: every benchmark, each as a process of its own writing ``--json``, then
BENCHMARKS.md and its plots. Prints each step as it starts ("[3/40] ... (1:02)").

    uv run python -m bench [--quick] [--repeat 3] [--out BENCHMARKS.md] [--only dispatcher e2e]

``--quick`` runs tiny sizes once, all benchmarks at the same time (a smoke test of the whole
chain, not a measurement). The full run is sized to finish within 15 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import machine, plots, report
from bench.common import STEP_MARK
from bench.results import Results

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Bench:
    name: str
    module: str
    quick: tuple[str, ...]
    full: tuple[str, ...] = ()


BENCHES = (
    Bench(
        "dispatcher",
        "bench.dispatcher_bench",
        ("--messages", "200", "--sdk-messages", "40", "--in-flight", "64", "--sweep", "--lean"),
    ),
    Bench(
        "scheduler",
        "bench.scheduler_bench",
        (
            "--pending",
            "3000",
            "--burst",
            "1000",
            "--rates",
            "200",
            "500",
            "--seconds",
            "1",
            "--baseline-count",
            "1000",
        ),
    ),
    Bench("token_api", "bench.token_api_bench", ("--requests", "150")),
    Bench(
        "e2e",
        "bench.e2e_bench",
        ("--users", "10", "--rates", "100", "300", "--seconds", "1", "--ramp-wait-s", "0"),
    ),
)


class Progress:
    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.started = time.monotonic()

    def elapsed(self) -> str:
        seconds = int(time.monotonic() - self.started)
        return f"{seconds // 60}:{seconds % 60:02d}"

    def show(self, label: str) -> None:
        self.done += 1
        print(f"[{self.done}/{self.total}] {label} ({self.elapsed()})", flush=True)


def argv_for(bench: Bench, quick: bool, repeat: int) -> list[str]:
    return [*(bench.quick if quick else bench.full), "--repeat", str(repeat)]


def labels(bench: Bench, argv: list[str]) -> list[str]:
    module = importlib.import_module(bench.module)
    args = module.build_parser().parse_args(argv)
    if hasattr(module, "labels"):
        return list(module.labels(args))
    return [step.label for step in module.plan(args)]


async def run_one(bench: Bench, argv: list[str], folder: Path, progress: Progress) -> Results | str:
    """The bench's results, or a sentence saying how it failed (its log is kept)."""
    out = folder / f"{bench.name}.json"
    log = folder / f"{bench.name}.log"
    command = [sys.executable, "-m", bench.module, *argv, "--json", str(out)]
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, stdout=log_file, stderr=asyncio.subprocess.PIPE
        )
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode(errors="replace")
            if line.startswith(STEP_MARK):
                progress.show(line[len(STEP_MARK) :].strip())
            else:
                log_file.write(raw)
                log_file.flush()
        code = await process.wait()
    if code != 0 or not out.is_file():
        tail = log.read_text(errors="replace").strip().splitlines()[-15:]
        print(f"{bench.name} failed (exit {code}); last lines of {log}:", file=sys.stderr)
        print("\n".join(tail), file=sys.stderr)
        return f"{bench.name}: exit code {code}, see `{shlex.join(command)}`"
    return Results.read(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, once, in parallel")
    parser.add_argument("--repeat", type=int, help="runs of each measurement (3; quick: 1)")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument(
        "--plots", type=Path, help="PNG folder (default: bench/plots next to --out)"
    )
    parser.add_argument("--logs", type=Path, help="keep each bench's JSON and log here")
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHES])
    parser.add_argument("--parallel", action="store_true", help="all benches at once (quick)")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="measure nothing: rewrite the report from the JSON files kept in --logs",
    )
    return parser.parse_args(argv)


def render(
    args: argparse.Namespace,
    outcomes: list[Results | str],
    info: dict[str, str],
    elapsed_s: float,
    command: str,
) -> None:
    """Write the report and its plots from the benches' results."""
    done = [o for o in outcomes if isinstance(o, Results)]
    failures = [o for o in outcomes if isinstance(o, str)]
    out = args.out.resolve()
    plot_dir = (args.plots or out.parent / "bench" / "plots").resolve()
    drawn = {r.bench: plots.draw(r, plot_dir) for r in done}
    text = report.render(done, info, command, elapsed_s, drawn, out, failures)
    out.write_text(text + "\n")
    print(f"wrote {out} and {sum(map(len, drawn.values()))} plots in {plot_dir}")


async def run(args: argparse.Namespace, folder: Path) -> int:
    repeat = args.repeat or (1 if args.quick else 3)
    chosen = [b for b in BENCHES if not args.only or b.name in args.only]
    argvs = {b.name: argv_for(b, args.quick, repeat) for b in chosen}
    progress = Progress(sum(len(labels(b, argvs[b.name])) for b in chosen))
    print(f"{progress.total} steps, {repeat} run(s) each; logs in {folder}", flush=True)
    info = await machine.describe()
    if args.parallel or args.quick:
        outcomes = await asyncio.gather(
            *(run_one(b, argvs[b.name], folder, progress) for b in chosen)
        )
    else:
        outcomes = [await run_one(b, argvs[b.name], folder, progress) for b in chosen]
    elapsed_s = time.monotonic() - progress.started
    command = shlex.join(["uv", "run", "python", "-m", "bench", *sys.argv[1:]])
    run_info = {"machine": info, "elapsed_s": elapsed_s, "command": command}
    (folder / "run.json").write_text(json.dumps(run_info, indent=1))
    render(args, outcomes, info, elapsed_s, command)
    failures = [o for o in outcomes if isinstance(o, str)]
    print(f"total {progress.elapsed()} (m:ss)" + (f"; failed: {failures}" if failures else ""))
    return 1 if failures else 0


def rerender(args: argparse.Namespace) -> int:
    """The report again from kept JSON (after editing bench/notes.md, say), same figures."""
    folder: Path = args.logs
    outcomes: list[Results | str] = [
        Results.read(folder / f"{b.name}.json")
        for b in BENCHES
        if (folder / f"{b.name}.json").is_file()
    ]
    run_info = json.loads((folder / "run.json").read_text())
    render(args, outcomes, run_info["machine"], run_info["elapsed_s"], run_info["command"])
    return 0


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.render_only:
        if args.logs is None:
            sys.exit("--render-only needs --logs DIR (where a run kept its JSON files)")
        sys.exit(rerender(args))
    if args.logs is not None:
        args.logs.mkdir(parents=True, exist_ok=True)
        sys.exit(asyncio.run(run(args, args.logs)))
    with tempfile.TemporaryDirectory(prefix="herald-bench-") as folder:
        sys.exit(asyncio.run(run(args, Path(folder))))
