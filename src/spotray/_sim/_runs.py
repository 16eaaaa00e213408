"""From a plan and a workload to runs: the simulated groups read from the plan, strategies
side by side, and Monte Carlo percentiles over seeded runs."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace

from .._plan import Plan
from .._plan._model import RAY_DEFAULT_IDLE_TIMEOUT_SECONDS
from ._engine import (
    RAY_DEFAULT_PENDING_TIMEOUT,
    RAY_DEFAULT_RECOVERY,
    Engine,
    GroupSim,
    Result,
    Settings,
)
from ._workload import Workload

STRATEGIES = ("as-planned", "all-on-demand", "all-spot", "spot-fallback", "resumable", "restart")
STRATEGY_HELP = {
    "as-planned": "the spec as written",
    "all-on-demand": "every worker group on-demand (no preemption, on-demand prices)",
    "all-spot": "no on-demand fallback groups (they get max 0)",
    "spot-fallback": "as planned, falling back to on-demand after --fallback-minutes of stockout",
    "resumable": "as planned, tasks save their progress at the preemption notice",
    "restart": "as planned, tasks start over after a preemption (no checkpoints)",
}


def groups_from_plan(plan: Plan, workload: Workload) -> list[GroupSim]:
    """The plan's worker groups as the simulator sees them: slots per Pod from the Ray CPUs
    (and GPUs) Ray's autoscaler reads, Pods per VM, bounds, priority, idle timeout, prices."""
    out = []
    task = workload.tasks
    for g in plan.workers:
        ray = g.ray_resources
        slots = int(ray.get("CPU", 0) // task.cpus) if task.cpus else 0
        if task.gpus:
            slots = min(slots, ray.get("GPU", 0) // task.gpus)
        idle = g.idle_timeout_seconds or plan.autoscaler_idle_timeout_seconds
        price = g.pool.usd_per_node_hour
        od = g.pool.price.on_demand
        out.append(
            GroupSim(
                name=g.name,
                spot=g.pool.spot,
                pods_per_node=max(1, g.pods_per_node),
                machine_type=g.pool.machine.name,
                slots=max(0, slots),
                min_pods=g.min_replicas,
                max_pods=g.max_replicas,
                priority=g.priority or 0,
                idle_seconds=float(idle if idle is not None else RAY_DEFAULT_IDLE_TIMEOUT_SECONDS),
                usd_per_node_hour=price or 0.0,
                usd_per_node_hour_on_demand=od or price or 0.0,
            )
        )
    return out


def settings_from_plan(plan: Plan) -> Settings:
    fallback = plan.fallback
    return Settings(
        pending_timeout=float(fallback.pending_timeout_seconds)
        if fallback
        else RAY_DEFAULT_PENDING_TIMEOUT,
        recovery=float(fallback.spot_retry_seconds) if fallback else RAY_DEFAULT_RECOVERY,
        window=float(plan.shutdown.grace_period_seconds),
        drain=float(plan.shutdown.drain_timeout_seconds),
        head_usd_per_hour=plan.head.pool.usd_per_node_hour or 0.0,
    )


def strategy(
    name: str, plan: Plan, workload: Workload, *, fallback_minutes: float = 10.0
) -> tuple[list[GroupSim], Settings, Workload]:
    """(groups, settings, workload) of a strategy."""
    groups = groups_from_plan(plan, workload)
    settings = settings_from_plan(plan)
    if name == "all-on-demand":
        groups = [
            replace(g, spot=False, usd_per_node_hour=g.usd_per_node_hour_on_demand) for g in groups
        ]
    elif name == "all-spot":
        fallbacks = {od for _, od in plan.fallback.routes} if plan.fallback else set()
        groups = [replace(g, max_pods=0, min_pods=0) if g.name in fallbacks else g for g in groups]
    elif name == "spot-fallback":
        settings = replace(settings, pending_timeout=fallback_minutes * 60)
    elif name == "resumable":
        workload = _with_tasks(workload, resumable=True)
    elif name == "restart":
        workload = _with_tasks(workload, resumable=False, checkpoint_seconds=None)
    elif name != "as-planned":
        raise ValueError(f"unknown strategy {name!r}")
    return groups, settings, workload


def _with_tasks(workload: Workload, **changes) -> Workload:
    tasks = workload.tasks.model_copy(update=changes)
    return replace(workload, spec=workload.spec.model_copy(update={"tasks": tasks}))


def simulate(
    plan: Plan,
    workload: Workload,
    *,
    strategy_name: str = "as-planned",
    seed: int = 0,
    fallback_minutes: float = 10.0,
    track: bool = False,
) -> Result:
    """One run of `workload` on the plan's cluster under a strategy."""
    groups, settings, workload = strategy(
        strategy_name, plan, workload, fallback_minutes=fallback_minutes
    )
    return Engine(groups, workload, settings, seed=seed, track=track).run()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    k = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass(frozen=True)
class Summary:
    strategy: str
    runs: int
    makespan: dict[str, float]  # p50/p95/p99 and mean, seconds
    usd: dict[str, float]
    usd_on_demand_mean: float
    preemptions_mean: float
    redone_hours_mean: float
    goodput_mean: float | None
    unfinished: int

    def to_json(self) -> dict:
        return self.__dict__.copy()


def summarize(name: str, results: list[Result]) -> Summary:
    def stats(values: list[float]) -> dict[str, float]:
        return {
            "p50": percentile(values, 50),
            "p95": percentile(values, 95),
            "p99": percentile(values, 99),
            "mean": statistics.fmean(values),
        }

    goodputs = [r.goodput for r in results if r.goodput is not None]
    return Summary(
        strategy=name,
        runs=len(results),
        makespan=stats([r.makespan for r in results]),
        usd=stats([r.usd for r in results]),
        usd_on_demand_mean=statistics.fmean(r.usd_on_demand for r in results),
        preemptions_mean=statistics.fmean(r.preemptions for r in results),
        redone_hours_mean=statistics.fmean(r.redone_seconds / 3600 for r in results),
        goodput_mean=statistics.fmean(goodputs) if goodputs else None,
        unfinished=sum(1 for r in results if not r.finished),
    )


def monte_carlo(
    plan: Plan,
    workload: Workload,
    *,
    strategies: list[str],
    runs: int,
    seed: int = 0,
    fallback_minutes: float = 10.0,
    progress: Callable[[], None] | None = None,
) -> tuple[list[Summary], dict[str, list[Result]]]:
    """`runs` seeded runs of each strategy (run i uses seed + i in every strategy, so the
    strategies meet the same luck)."""
    all_results: dict[str, list[Result]] = {}
    for name in strategies:
        results = []
        for i in range(runs):
            results.append(
                simulate(
                    plan,
                    workload,
                    strategy_name=name,
                    seed=seed + i,
                    fallback_minutes=fallback_minutes,
                )
            )
            if progress:
                progress()
        all_results[name] = results
    return [summarize(n, r) for n, r in all_results.items()], all_results
