"""The preemption simulator against the local Spot cluster (issue 13, step 5).

The same spec (tests/data/local-spec.yaml: two Spot groups), the same job (plain Ray tasks of
STEPS x STEP seconds that start over when preempted: examples/resumable_job.py --plain), the
same seeded Poisson schedule (mean --rate seconds between preemptions per VM slot), run on the
local cluster (time-scaled) and simulated with the local nodes' measured start time. For each
seed: makespan and work redone, local against simulated; then the medians and their ratios
(target: within 15%). Ends with `calibration: makespan <r>, redone <r>` (sim / local).
Run: .venv/bin/python bench/calibrate.py [--runs 5 --tasks 16 --steps 20 --step-seconds 1 --rate 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

os.environ.setdefault("SPOTRAY_STATE_DIR", tempfile.mkdtemp(prefix="spotray-bench-"))

import spotray
from spotray._local._calibrate import run_pair

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--step-seconds", type=float, default=1.0)
    parser.add_argument("--rate", type=float, default=20.0, help="mean s between preemptions")
    parser.add_argument("--time-scale", type=float, default=5.0)
    args = parser.parse_args()
    plan = spotray.plan(spotray.load_spec(ROOT / "tests" / "data" / "local-spec.yaml"))
    pairs = []
    for seed in range(1, args.runs + 1):
        pair = run_pair(
            plan,
            job=ROOT / "examples" / "resumable_job.py",
            tasks=args.tasks,
            steps=args.steps,
            step_seconds=args.step_seconds,
            mean_seconds=args.rate,
            seed=seed,
            time_scale=args.time_scale,
        )
        pairs.append(pair)
        print(
            f"seed {seed}: makespan local {pair.local_makespan:.1f} s, sim {pair.sim_makespan:.1f} s;"
            f" redone local {pair.local_redone:.1f} s, sim {pair.sim_redone:.1f} s;"
            f" notices {pair.preemptions}, node start {pair.start_seconds:.1f} s",
            flush=True,
        )
    lm = statistics.median(p.local_makespan for p in pairs)
    sm = statistics.median(p.sim_makespan for p in pairs)
    lr = statistics.median(p.local_redone for p in pairs)
    sr = statistics.median(p.sim_redone for p in pairs)
    print(f"median makespan: local {lm:.1f} s, sim {sm:.1f} s (sim/local {sm / lm:.2f})")
    print(
        f"median redone:   local {lr:.1f} s, sim {sr:.1f} s (sim/local {sr / lr if lr else float('nan'):.2f})"
    )
    print(f"calibration: makespan {sm / lm:.2f}, redone {sr / lr if lr else float('nan'):.2f}")


if __name__ == "__main__":
    main()
