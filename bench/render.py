"""How fast `spotray render` is.

1. Whole process: `spotray render examples/seed.yaml` as a user runs it (median of N runs), and
   whether Ray was imported (it must not be).
2. In process: plan + render of a 500-worker-group spec, with spotray's HCL writer compared to
   python-hcl2's own writer (`hcl2.dumps`) on the same document: the baseline it replaces.

Targets (issue 2): < 0.5 s whole process; < 200 ms to render 500 groups.
Run: .venv/bin/python bench/render.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "seed.yaml"


def whole_process(runs: int) -> list[float]:
    times = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "spotray.cli", "render", str(SEED), "-o", out],
                check=True,
                capture_output=True,
            )
            times.append(time.perf_counter() - start)
    return times


def ray_imported() -> bool:
    code = (
        f"import sys, spotray.cli; spotray.cli.main(['render', {str(SEED)!r}, '--stdout']); "
        "print('ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip().endswith("True")


def big_spec(groups: int) -> str:
    spec = yaml.safe_load(SEED.read_text())
    template = spec["workers"][0]
    spec["workers"] = [dict(template, name=f"group-{i}", pool=f"pool-{i}") for i in range(groups)]
    return yaml.safe_dump(spec)


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--groups", type=int, default=500)
    args = parser.parse_args()

    import hcl2

    import spotray
    from spotray._render import render_raycluster, render_terraform, terraform_document

    times = whole_process(args.runs)
    print(
        f"whole process `spotray render examples/seed.yaml`: median {statistics.median(times):.3f} s "
        f"(min {min(times):.3f}, max {max(times):.3f}, {args.runs} runs; target < 0.5 s)"
    )
    print(f"ray imported by render: {ray_imported()}")

    text = big_spec(args.groups)
    spec = spotray.load_spec("big.yaml", text=text)
    load = best_of(lambda: spotray.load_spec("big.yaml", text=text), 3)
    plan = spotray.plan(spec)
    plan_t = best_of(lambda: spotray.plan(spec), 3)
    tf = best_of(lambda: render_terraform(plan), 3)
    rc = best_of(lambda: render_raycluster(plan), 3)
    document = terraform_document(plan)
    baseline = best_of(lambda: hcl2.dumps(document), 1)
    print(f"{args.groups} worker groups, in process (best of 3):")
    print(f"  load spec {load * 1000:.0f} ms, plan {plan_t * 1000:.0f} ms")
    print(
        f"  render {1000 * (tf + rc):.0f} ms = node-pools.tf {tf * 1000:.0f} ms "
        f"+ raycluster.yaml {rc * 1000:.0f} ms (target < 200 ms)"
    )
    print(
        f"  HCL: spotray writer {tf * 1000:.0f} ms vs python-hcl2 dumps {baseline * 1000:.0f} ms "
        f"-> {baseline / tf:.1f}x faster"
    )


if __name__ == "__main__":
    main()
