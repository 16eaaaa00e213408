"""How fast the preemption simulator runs at cluster scale, and its cost per event against the
bare event core.

Ours: `spotray._sim` on one core: 1,000 Spot VMs (one 1-CPU slot per Pod, one Pod per VM) for
7 simulated days, 1,000,000 tasks of 10 minutes (checkpoints every 2 minutes), Poisson
preemptions at 0.1 per VM-hour (~17,000 of them), replacements after 90 s of provisioning.
Baseline: the same number of events pushed through the bare event core (`_sim._core.Sim`) with
no model behind them: what the heap alone costs.
Prints events/s of both, their ratio, and ends with `1000 VMs x 7 days: <seconds> s`.
Run: .venv/bin/python bench/sim.py [--vms 1000] [--days 7] [--tasks 1000000]
"""

from __future__ import annotations

import argparse
import time

from spotray._sim._core import Sim
from spotray._sim._engine import Engine, GroupSim, Settings
from spotray._sim._workload import load_workload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=1000)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    args = parser.parse_args()
    # tasks sized so that the VMs are busy for the whole horizon
    seconds = args.days * 86400 * args.vms / args.tasks
    text = (
        f"tasks: {{count: {args.tasks}, duration: {{fixed: {seconds:.3f}}}, "
        "checkpoint_seconds: 120}\n"
        "provision_seconds: 90\npreemption: {spot: {rate_per_hour: 0.1}}\n"
    )
    workload = load_workload("bench.yaml", {"spot"}, {"spot"}, text=text)
    group = GroupSim(
        name="spot",
        spot=True,
        pods_per_node=1,
        machine_type="n2d-standard-2",
        slots=1,
        min_pods=args.vms,
        max_pods=args.vms,
        priority=0,
        idle_seconds=60.0,
        usd_per_node_hour=0.0245,
        usd_per_node_hour_on_demand=0.0845,
    )
    start = time.perf_counter()
    result = Engine([group], workload, Settings(horizon=30 * 86400.0), seed=1).run()
    ours = time.perf_counter() - start
    print(
        f"ours: {result.events:,} events in {ours:.2f} s ({result.events / ours:,.0f} events/s); "
        f"makespan {result.makespan / 86400:.2f} days, {result.tasks_done:,} tasks, "
        f"{result.preemptions:,} preemptions, goodput {result.goodput:.1%}, cost ${result.usd:,.0f}"
    )
    sim = Sim()
    start = time.perf_counter()
    for i in range(result.events):
        sim.after(float(i % 997), "x", i)
        if len(sim._heap) > args.vms:
            sim.pop()
    while sim:
        sim.pop()
    core = time.perf_counter() - start
    print(
        f"baseline (bare event core, same events): {core:.2f} s ({result.events / core:,.0f} events/s)"
    )
    print(f"ratio ours/core: {ours / core:.1f}x the time of the heap alone")
    print(f"{args.vms} VMs x {args.days:g} days: {ours:.2f} s")


if __name__ == "__main__":
    main()
