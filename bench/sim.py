"""How fast the preemption simulator runs at cluster scale, and its cost per event against the
bare event core.

Ours: `spotray._sim` on one core: 1,000 Spot VMs (one 1-CPU slot per Pod, one Pod per VM) for
7 simulated days, 1,000,000 tasks of 10 minutes (checkpoints every 2 minutes), Poisson
preemptions at 0.1 per VM-hour (~17,000 of them), replacements after 90 s of provisioning.
Against simpy: the same engine on simpy's event core (an adapter with `Sim`'s interface: each
event a simpy Timeout whose callback hands it to the engine), same seed, so the same run event
for event (checked); and the bare heap (`_sim._core.Sim` with no model): what the core costs.
Then 100 Monte Carlo runs of a job on the seed example (target <= 30 s).
Prints events/s, the ratios, and ends with `1000 VMs x 7 days: <seconds> s`.
Run: .venv/bin/python bench/sim.py [--vms 1000] [--days 7] [--tasks 1000000]
"""

from __future__ import annotations

import argparse
import time

from spotray._sim._core import Sim
from spotray._sim._engine import Engine, GroupSim, Settings
from spotray._sim._workload import load_workload


class SimpySim:
    """simpy's Environment behind the interface of `spotray._sim._core.Sim`."""

    def __init__(self) -> None:
        import simpy

        self.env = simpy.Environment()
        self.events = 0
        self._current: tuple[str, object] | None = None

    @property
    def now(self) -> float:
        return self.env.now

    def clock(self) -> float:
        return self.env.now

    def at(self, time: float, kind: str, data: object = None) -> None:
        event = self.env.timeout(max(time - self.env.now, 0.0))
        event.callbacks.append(lambda _e, k=kind, d=data: self._hand(k, d))

    def after(self, delay: float, kind: str, data: object = None) -> None:
        self.at(self.env.now + delay, kind, data)

    def _hand(self, kind: str, data: object) -> None:
        self._current = (kind, data)

    def pop(self) -> tuple[str, object]:
        self.env.step()
        self.events += 1
        current, self._current = self._current, None
        return current

    def __bool__(self) -> bool:
        return self.env.peek() != float("inf")


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
    start = time.perf_counter()
    on_simpy = Engine(
        [group], workload, Settings(horizon=30 * 86400.0), seed=1, sim=SimpySim()
    ).run()
    simpy_seconds = time.perf_counter() - start
    same = on_simpy == result
    print(
        f"the same engine on simpy: {simpy_seconds:.2f} s ({on_simpy.events / simpy_seconds:,.0f} "
        f"events/s); simpy/ours {simpy_seconds / ours:.2f}x; the same run: {same}"
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
    monte_carlo_seed()
    print(f"{args.vms} VMs x {args.days:g} days: {ours:.2f} s")


def monte_carlo_seed(runs: int = 100) -> None:
    """100 runs of a day's job on the seed example: 2,000 tasks of 10 minutes on its two Spot
    groups (1-CPU and 3-CPU Pods), Poisson preemptions at 0.5 per VM-hour."""
    from pathlib import Path

    import spotray
    from spotray._sim._runs import monte_carlo

    root = Path(__file__).resolve().parents[1]
    plan = spotray.plan(spotray.load_spec(root / "examples" / "seed.yaml"))
    spot = {g.name for g in plan.workers if g.pool.spot}
    text = (
        "tasks: {count: 2000, duration: {exponential: {mean: 600}}, checkpoint_seconds: 120}\n"
        "preemption: {small-group: {rate_per_hour: 0.5}, medium-group: {rate_per_hour: 0.5}}\n"
    )
    workload = load_workload("seed-job.yaml", spot, spot, text=text)
    start = time.perf_counter()
    summaries, _ = monte_carlo(plan, workload, strategies=["as-planned"], runs=runs, seed=1)
    took = time.perf_counter() - start
    s = summaries[0]
    print(
        f"{runs} Monte Carlo runs of the seed's job: {took:.2f} s (target 30 s); makespan p50 "
        f"{s.makespan['p50'] / 3600:.1f} h, p95 {s.makespan['p95'] / 3600:.1f} h; cost p50 "
        f"${s.usd['p50']:.2f}"
    )


if __name__ == "__main__":
    main()
