"""Goodput under Spot preemption: plain Ray tasks against the same tasks with spotray.resumable.

The same local Spot cluster (examples/seed.yaml: its two Spot groups, a fresh cluster per run),
the same workload (examples/resumable_job.py: TASKS tasks of STEPS steps of STEP seconds), the
same seeded Poisson preemption schedule (mean seconds between preemptions per VM comparable to
a task's length), run twice: (a) plain Ray tasks with max_retries=-1, (b) @resumable.

For each: makespan; goodput = useful task-seconds / task-seconds run (every step the job ran
is logged, so work redone is counted exactly); redone seconds; failed attempts by cause (Ray's
state API; for resumable tasks also their ledgers: preempted / crashed / error); notice -> task
latency (the cloud's notice to the task's watcher) and notice -> save latency. Then b/a.
Targets (issue 9): goodput(b) >= 0.95, goodput b/a >= 1.5 with makespan(b) < makespan(a),
notice -> save <= 1 s (median).

Run: .venv/bin/python bench/goodput.py [--tasks 16 --steps 30 --step-seconds 0.5 --rate 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("SPOTRAY_STATE_DIR", tempfile.mkdtemp(prefix="spotray-bench-"))

import spotray  # noqa: E402
from spotray import local  # noqa: E402


def ledgers(store: Path) -> list[dict]:
    return [e for p in store.rglob("LEDGER") for e in json.loads(p.read_text())]


def one_run(mode: str, args, plan, schedule, work: Path) -> dict:
    store, log = work / f"{mode}-store", work / f"{mode}.steps"
    cluster = local.up(plan, time_scale=args.time_scale)
    try:
        argv = [
            sys.executable,
            str(ROOT / "examples" / "resumable_job.py"),
            "--tasks", str(args.tasks), "--steps", str(args.steps),
            "--step-seconds", str(args.step_seconds), "--store", str(store), "--log", str(log),
        ]  # fmt: skip
        if mode == "plain":
            argv.append("--plain")
        report = local.run_job(cluster, argv, preemptions=schedule, seed=args.seed)
        notices = [e for e in cluster.events() if e["event"] == "notice"]
    finally:
        cluster.down()
    lines = log.read_text().splitlines() if log.exists() else []
    useful = args.tasks * args.steps * args.step_seconds
    ran = len(lines) * args.step_seconds
    entries = ledgers(store) if store.exists() else []
    saves = [e["saved_after_notice"] for e in entries if "saved_after_notice" in e]
    delivered = []
    for e in entries:
        if "notice_at" in e:
            before = [n["wall"] for n in notices if n["wall"] <= e["notice_at"] + 0.05]
            if before:
                delivered.append(e["notice_at"] - max(before))
    causes = dict(report.failed_by_cause)
    for how, count in report.node_deaths_by_ray.items():  # how Ray recorded the lost nodes
        causes[f"ray:{how}"] = count
    for status in ("preempted", "crashed", "error"):
        count = sum(1 for e in entries if e["status"] == status)
        if count:
            causes[f"ledger:{status}"] = count
    return {
        "exit": report.exit_code,
        "makespan": report.makespan_seconds,
        "goodput": useful / ran if ran else None,
        "redone": ran - useful,
        "preemptions": report.preempted,
        "causes": causes,
        "notice_to_task": delivered,
        "notice_to_save": saves,
    }


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s (max {max(values):.2f})" if values else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--step-seconds", type=float, default=0.5)
    parser.add_argument("--rate", type=float, default=20.0, help="mean s between preemptions/VM")
    parser.add_argument("--time-scale", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    plan = spotray.plan(spotray.load_spec(ROOT / "examples" / "seed.yaml"))
    spot = {g.name: g.max_vms for g in plan.workers if g.pool.spot}
    schedule = local.poisson(spot, args.rate, 3600, args.seed)
    print(
        f"{args.tasks} tasks x {args.steps} steps x {args.step_seconds} s on the seed's Spot "
        f"groups; preemptions every {args.rate} s per VM on average (seed {args.seed})"
    )
    with tempfile.TemporaryDirectory() as tmp:
        runs = {
            mode: one_run(mode, args, plan, schedule, Path(tmp)) for mode in ("plain", "resumable")
        }
    a, b = runs["plain"], runs["resumable"]
    rows = [
        ("job exit code", "exit", str),
        ("makespan", "makespan", lambda v: f"{v:.1f} s"),
        ("goodput", "goodput", lambda v: f"{v:.3f}"),
        ("redone task-seconds", "redone", lambda v: f"{v:.1f}"),
        ("preemptions (notices)", "preemptions", str),
        ("failed attempts by cause", "causes", lambda v: ", ".join(f"{k} {n}" for k, n in sorted(v.items())) or "none"),
        ("notice -> task", "notice_to_task", _median),
        ("notice -> save", "notice_to_save", _median),
    ]  # fmt: skip
    print(f"{'':26s} {'plain Ray':>36s} {'resumable':>36s}")
    for label, key, fmt in rows:
        print(f"{label:26s} {fmt(a[key]):>36s} {fmt(b[key]):>36s}")
    ratio = b["goodput"] / a["goodput"] if a["goodput"] and b["goodput"] else float("nan")
    print(f"ratios b/a: goodput {ratio:.2f}, makespan {b['makespan'] / a['makespan']:.2f}")
    print(f"goodput: plain {a['goodput']:.2f}, resumable {b['goodput']:.2f}, ratio {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
