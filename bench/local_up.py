"""How long the local spot cluster takes to come up and go down, and what a node costs in memory.

Ours: `spotray.local.up` of tests/data/local-spec.yaml (head with dashboard and autoscaler v2,
plus medium-group's one minimum node, started by Ray's autoscaler through spotray's provider)
until Ray reports both nodes alive; then `down`, until every process is gone.
Baseline: `ray.cluster_utils.Cluster` with a head and one worker node started directly
(no autoscaler, no dashboard, no controller), the fastest way Ray itself offers.
Memory: resident set (RSS) of each node's process tree in our cluster.
Run: .venv/bin/python bench/local_up.py [--runs 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("SPOTRAY_STATE_DIR", tempfile.mkdtemp(prefix="spotray-bench-"))

import psutil

import spotray
from spotray import local

SPEC = Path(__file__).resolve().parents[1] / "tests" / "data" / "local-spec.yaml"
MB = 2**20


def tree_rss(pid: int) -> int:
    try:
        proc = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])
    except psutil.Error:
        return 0


def ours(plan) -> tuple[float, float, dict[str, int]]:
    start = time.monotonic()
    cluster = local.up(plan, provision_seconds=0)
    t_up = time.monotonic() - start
    time.sleep(3)  # let idle worker processes settle
    rss = {i["id"]: tree_rss(i["pid"]) for i in cluster.instances() if i["state"] == "running"}
    start = time.monotonic()
    cluster.down()
    return t_up, time.monotonic() - start, rss


def baseline() -> tuple[float, float]:
    from ray.cluster_utils import Cluster

    start = time.monotonic()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "object_store_memory": 200 * MB, "include_dashboard": False},
    )
    cluster.add_node(num_cpus=2, object_store_memory=100 * MB)
    cluster.wait_for_nodes()
    t_up = time.monotonic() - start
    start = time.monotonic()
    cluster.shutdown()
    return t_up, time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    plan = spotray.plan(spotray.load_spec(SPEC))
    results = [ours(plan) for _ in range(args.runs)]
    base = [baseline() for _ in range(args.runs)]
    up = statistics.median(r[0] for r in results)
    down = statistics.median(r[1] for r in results)
    b_up = statistics.median(b[0] for b in base)
    b_down = statistics.median(b[1] for b in base)
    print(f"spotray up (head + 1 worker via autoscaler v2): {up:.1f} s; down {down:.1f} s")
    print(f"ray.cluster_utils.Cluster (head + 1 worker):     {b_up:.1f} s; down {b_down:.1f} s")
    print(f"ratio up ours/baseline: {up / b_up:.1f}x")
    for name, rss in sorted(results[-1][2].items()):
        print(f"memory (RSS of the process tree), {name}: {rss / MB:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
