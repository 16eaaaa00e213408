"""Real availability traces through the simulator: what the Can't Be Late dataset's zones would
do to a job on the recommended example's Spot group, against the same job all on-demand.

The dataset (github.com/skypilot-org/spot-traces, NSDI'24) has no license file, so spotray does
not ship it: clone it and pass its directory. For every JSON file under DIR, this prints the
trace's shape (ticks, tick length, hours, the share of ticks with Spot available, outages and
their mean length), then Monte Carlo runs of one job (a random start in the trace per run) under
three strategies: as planned (Spot, on-demand fallback after the spec's 10 minutes), all Spot
(no fallback) and all on-demand, with the cost and makespan ratios Spot / on-demand.
Single-node files are read as gates (1 = available); multi-node files as capacity (the count of
VMs the pool can run).

A fall in a trace preempts the VMs above it, as the paper reads it (`--drop stockout`: it only
stops new VMs, the reading of a launch probe that failed).

Run: .venv/bin/python bench/traces.py DIR [--runs 20] [--tasks 400] [--drop preempt|stockout]
Measured 2026-11-30 on the dataset's 34 files (commit 221da1a), 20 runs each, one job of 400
30-minute tasks with 5-minute checkpoints on examples/recommended.yaml: see docs/simulate.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import spotray
from spotray._sim._availability import read_availability
from spotray._sim._runs import monte_carlo
from spotray._sim._workload import load_workload

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "recommended.yaml"


def outages(values: tuple[int, ...]) -> list[int]:
    runs, current = [], 0
    for v in values:
        if v == 0:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    if current:
        runs.append(current)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", type=Path)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=400)
    parser.add_argument(
        "--drop",
        choices=("preempt", "stockout"),
        default="preempt",
        help="a fall preempts the VMs above it (the paper's reading) or only stops new ones",
    )
    args = parser.parse_args()
    plan = spotray.plan(spotray.load_spec(EXAMPLE))
    files = sorted(args.dir.rglob("*.json"))
    if not files:
        raise SystemExit(f"no JSON files under {args.dir}")
    print(
        f"{'file':58} {'ticks':>6} {'gap':>4} {'hours':>6} {'avail':>6} {'outages':>7} "
        f"{'mean h':>6} | {'read s':>6} | p50 makespan h (planned / spot / on-demand) | "
        "p50 $ (planned / spot / on-demand) | $ ratio | time ratio"
    )
    ratios = []
    for path in files:
        t0 = time.perf_counter()
        trace = read_availability(str(path))
        read_s = time.perf_counter() - t0
        binary = trace.binary
        down = outages(trace.values)
        mode = "gate" if binary else "capacity"
        workload_file = path.with_name(f".{path.stem}.workload.yaml")
        text = (
            f"tasks: {{count: {args.tasks}, duration: {{fixed: 1800}}, checkpoint_seconds: 300}}\n"
            "provision_seconds: 120\n"
            f"preemption: {{cpu-spot: {{availability: {{file: {path.resolve()}, mode: {mode}, "
            f"start_hours: random, drop: {args.drop}}}}}}}\n"
        )
        wl = load_workload(
            str(workload_file), {"cpu-spot"}, {"cpu-spot", "cpu-ondemand"}, text=text
        )
        summaries, _ = monte_carlo(
            plan, wl, strategies=["as-planned", "all-spot", "all-on-demand"], runs=args.runs, seed=1
        )
        by = {s.strategy: s for s in summaries}
        span = [by[s].makespan["p50"] / 3600 for s in ("as-planned", "all-spot", "all-on-demand")]
        usd = [by[s].usd["p50"] for s in ("as-planned", "all-spot", "all-on-demand")]
        cost_ratio, time_ratio = usd[0] / usd[2], span[0] / span[2]
        ratios.append((cost_ratio, time_ratio))
        avail = trace.to_json(wl.caps("cpu-spot"))["available_share"]  # as the run reads it
        name = str(path.relative_to(args.dir))
        print(
            f"{name:58} {len(trace.values):>6} {trace.gap_seconds:>4.0f} {trace.hours:>6.1f} "
            f"{avail:>6.0%} {len(down):>7} "
            f"{statistics.fmean(down) * trace.gap_seconds / 3600 if down else 0:>6.2f} | "
            f"{read_s:>6.3f} | {span[0]:6.2f} / {span[1]:6.2f} / {span[2]:6.2f} | "
            f"{usd[0]:6.2f} / {usd[1]:6.2f} / {usd[2]:6.2f} | {cost_ratio:.2f} | {time_ratio:.2f}"
            + (
                f"  (all-spot unfinished: {by['all-spot'].unfinished})"
                if by["all-spot"].unfinished
                else ""
            )
        )
    costs = [c for c, _ in ratios]
    times = [t for _, t in ratios]
    print(
        f"{len(files)} traces (drop: {args.drop}, {args.runs} runs each): Spot with fallback / on-demand: cost ratio median "
        f"{statistics.median(costs):.2f} (range {min(costs):.2f}-{max(costs):.2f}), makespan ratio "
        f"median {statistics.median(times):.2f} (range {min(times):.2f}-{max(times):.2f})"
    )


if __name__ == "__main__":
    main()
