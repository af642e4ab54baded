"""The report's PNG plots (matplotlib, no display): dispatcher throughput against its in-flight
limit, lateness CDFs of the scheduler and of the whole pipeline, token-api rate and latency
against concurrency. Each draws the median of the runs, with the min to max spread where it has
one, and the same-run baseline beside it."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from bench.results import Results


def _spread(values: dict[int, float]) -> tuple[float, float, float]:
    found = list(values.values())
    return statistics.median(found), min(found), max(found)


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def dispatcher_inflight(results: Results, folder: Path) -> list[Path]:
    pattern = re.compile(r"dispatcher\.l(\d+)\.if(\d+)\.(x1|raw)$")
    lines: dict[tuple[int, str], list[tuple[int, dict[int, float]]]] = {}
    for key, values in results.samples.items():
        found = pattern.match(key)
        if found and values:
            latency, limit, who = int(found[1]), int(found[2]), found[3]
            lines.setdefault((latency, who), []).append((limit, values))
    if not lines:
        return []
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for (latency, who), points in sorted(lines.items()):
        points.sort()
        xs = [limit for limit, _ in points]
        spreads = [_spread(values) for _, values in points]
        mids = [m for m, _, _ in spreads]
        errors = [[m - lo for m, lo, _ in spreads], [hi - m for m, _, hi in spreads]]
        name = "dispatcher x1" if who == "x1" else "raw aiohttp loop"
        style = "-" if who == "x1" else "--"
        label = f"{name}, {latency} ms FCM latency"
        ax.errorbar(xs, mids, yerr=errors, marker="o", capsize=3, linestyle=style, label=label)
    limits = sorted({limit for points in lines.values() for limit, _ in points})
    for latency in sorted({latency for latency, _ in lines if latency > 0}):
        ideal = [limit * 1000 / latency for limit in limits]
        ax.plot(limits, ideal, color="grey", linestyle=":", label=f"in-flight / {latency} ms")
    ax.set_yscale("log")
    ax.set_xscale("log", base=2)
    ax.set_xticks(limits, [str(limit) for limit in limits])
    ax.set_xlabel("requests in flight (HERALD_MAX_IN_FLIGHT / raw loop workers)")
    ax.set_ylabel("notifications/s (median, min to max)")
    ax.set_title("Dispatcher throughput against the in-flight limit")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return [_save(fig, folder / "dispatcher_inflight.png")]


def lateness_cdf(results: Results, folder: Path, prefix: str, floor: str, title: str) -> list[Path]:
    pattern = re.compile(rf"{re.escape(prefix)}\.(\d+)\.run\d+$")
    floor_pattern = re.compile(rf"{re.escape(floor)}\.(\d+)\.run\d+$")
    pooled: dict[tuple[int, str], list[float]] = {}
    for name, values in results.series.items():
        for kind, regex in (("measured", pattern), ("floor", floor_pattern)):
            found = regex.match(name)
            if found:
                pooled.setdefault((int(found[1]), kind), []).extend(values)
    if not any(pooled.values()):
        return []
    fig, ax = plt.subplots(figsize=(7, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    rates = sorted({rate for rate, _ in pooled})
    for (rate, kind), values in sorted(pooled.items()):
        if not values:
            continue
        values.sort()
        ys = [(i + 1) / len(values) for i in range(len(values))]
        floor_run = kind == "floor"
        label = f"{rate:,} due/s" + (", floor: plain sleep-until loop" if floor_run else "")
        color = colors[rates.index(rate) % len(colors)]
        ax.plot(values, ys, color=color, linestyle="--" if floor_run else "-", label=label)
    lowest = min(min(values) for values in pooled.values() if values)
    ax.axhline(0.99, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(left=min(0.0, lowest))
    ax.set_xlabel("lateness (ms, all runs pooled; dotted line: p99)")
    ax.set_ylabel("share of reminders at most this late")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return [_save(fig, folder / f"{prefix.split('.')[0]}_lateness_cdf.png")]


def token_api(results: Results, folder: Path) -> list[Path]:
    pattern = re.compile(r"token_api\.c(\d+)\.(api|raw)$")
    found: dict[str, list[tuple[int, str]]] = {}
    for key in results.samples:
        match = pattern.match(key)
        if match and results.samples[key]:
            found.setdefault(match[2], []).append((int(match[1]), key))
    if not found:
        return []
    fig, (rate_ax, late_ax) = plt.subplots(1, 2, figsize=(10, 4.2))
    colors = {"api": "tab:blue", "raw": "tab:orange"}
    for who, points in sorted(found.items()):
        points.sort()
        xs = [c for c, _ in points]
        name = "token-api" if who == "api" else "raw asyncpg upsert"
        rate_ax.plot(
            xs, [_spread(results.samples[k])[0] for _, k in points], marker="o", label=name
        )
        for q, style in (("p50", ":"), ("p99", "-")):
            ys = [_spread(results.samples[f"{k}.{q}_ms"])[0] for _, k in points]
            late_ax.plot(
                xs, ys, marker="o", linestyle=style, color=colors[who], label=f"{name} {q}"
            )
    late_ax.axhline(25, color="grey", linewidth=0.8, linestyle="--", label="goal p99 at 64")
    concurrencies = sorted({c for points in found.values() for c, _ in points})
    for ax in (rate_ax, late_ax):
        ax.set_xscale("log", base=2)
        ax.set_xticks(concurrencies, [str(c) for c in concurrencies])
        ax.set_xlabel("concurrent clients")
        ax.grid(True, alpha=0.3)
        ax.legend()
    rate_ax.set_ylabel("registrations/s (median, min to max)")
    late_ax.set_ylabel("latency (ms, median of runs)")
    late_ax.set_yscale("log")
    fig.suptitle("Token-api against a raw asyncpg upsert")
    return [_save(fig, folder / "token_api.png")]


def draw(results: Results, folder: Path) -> list[Path]:
    if results.bench == "dispatcher":
        return dispatcher_inflight(results, folder)
    if results.bench == "scheduler":
        title = "Scheduler lateness: publish time minus fire time"
        return lateness_cdf(results, folder, "scheduler.late", "scheduler.floor", title)
    if results.bench == "token_api":
        return token_api(results, folder)
    if results.bench == "e2e":
        title = "End to end lateness: FCM emulator receipt minus fire time"
        return lateness_cdf(results, folder, "e2e.late", "e2e.raw", title)
    return []
