"""How long work waits for the on-demand fallback during a Spot stockout: spotray's settings
against Ray's defaults, on the local cluster, in one run.

Both runs: tests/data/fallback-spec.yaml (a Spot group, priority 10, and an on-demand group of
the same shape, priority 0), time-scaled; the Spot group is stocked out for longer than the
wait; one 1-CPU task is submitted (tests/data/where_job.py) and the time from its submission to
its start on the on-demand group is measured.
- ours: `local.up(plan)`: the autoscaler gets the plan's fallback settings, time-scaled (the
  rendered `autoscalerOptions.env`, docs/fallback.md);
- baseline: `local.up(plan, ray_default_timeouts=True)`: Ray 2.60's defaults (a Pending Pod is
  waited for 3600 s); waited at most --cap seconds, then reported as "more than".
Prints the scale, both times, their ratio, and the line `fallback: <s> s (configured <s> s)`.
Run: .venv/bin/python bench/fallback.py [--time-scale 30] [--cap 120]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SPOTRAY_STATE_DIR", tempfile.mkdtemp(prefix="spotray-bench-"))

import spotray
from spotray import local
from spotray._plan import ALLOCATE_TIMEOUT_ENV

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "tests" / "data" / "fallback-spec.yaml"
WHERE = ROOT / "tests" / "data" / "where_job.py"


def wait_for_fallback(plan, time_scale: float, cap: float, defaults: bool) -> dict:
    cluster = local.up(
        plan, time_scale=time_scale, idle_timeout_seconds=5, ray_default_timeouts=defaults
    )
    try:
        cluster.stockout("cpu-spot", cap + 60)
        proc = subprocess.run(
            [sys.executable, str(WHERE), str(cap)],
            env={**os.environ, **cluster.env},
            capture_output=True,
            text=True,
            timeout=cap + 120,
        )
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["env"] = cluster.config["autoscaler_env"]
        return result
    finally:
        cluster.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-scale", type=float, default=30.0)
    parser.add_argument("--cap", type=float, default=120.0, help="longest wait, seconds")
    args = parser.parse_args()
    plan = spotray.plan(spotray.load_spec(SPEC))
    print(
        f"time scale {args.time_scale:g}: GKE seconds / {args.time_scale:g} = local seconds; "
        f"the plan falls back after {plan.fallback.pending_timeout_seconds} s on GKE"
    )
    ours = wait_for_fallback(plan, args.time_scale, args.cap, defaults=False)
    configured = int(ours["env"][ALLOCATE_TIMEOUT_ENV])
    base = wait_for_fallback(plan, args.time_scale, args.cap, defaults=True)
    print(f"ours     (spotray's settings): on {ours['group']} after {ours['waited']} s")
    if base["group"] is None:
        print(
            f"baseline (Ray's defaults):     not run within {args.cap:g} s "
            f"(Ray waits 3600 s for a Pending Pod)"
        )
        print(f"ratio baseline/ours: > {args.cap / ours['waited']:.1f}x")
    else:
        print(f"baseline (Ray's defaults):     on {base['group']} after {base['waited']} s")
        print(f"ratio baseline/ours: {base['waited'] / ours['waited']:.1f}x")
    if ours["waited"] is not None:
        print(
            f"ours = {configured} s configured + {ours['waited'] - configured:.1f} s of launch "
            "and local node start (not time-scaled)"
        )
    print(f"fallback: {ours['waited']} s (configured {configured} s)")


if __name__ == "__main__":
    start = time.monotonic()
    main()
    print(f"bench took {time.monotonic() - start:.0f} s")
