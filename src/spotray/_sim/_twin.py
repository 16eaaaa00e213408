"""The simulator's twin of a local-cluster run, for calibration: the same groups as the local
cluster runs them (`LocalGroup`: its CPUs, bounds, Pods per VM), the same time-scaled shutdown
window and drain, the same seeded preemption schedule (slot by slot), tasks of the same length,
and the local nodes' own start time (measured in the run, not fitted to its outcome)."""

from __future__ import annotations

import statistics

from .._spot._schedule import Preemption
from ._engine import GroupSim, Settings
from ._workload import Duration, Tasks, TraceRow, Workload, WorkloadSpec


def twin_groups(
    local_groups: list[dict], *, task_cpus: float, idle_seconds: float
) -> list[GroupSim]:
    out = []
    for g in local_groups:
        out.append(
            GroupSim(
                name=g["name"],
                spot=g["spot"],
                pods_per_node=max(1, g["pods_per_node"]),
                machine_type=g["machine_type"],
                slots=int(g["cpus"] // task_cpus),
                min_pods=g["min_nodes"],
                max_pods=g["max_nodes"],
                priority=g["priority"],
                idle_seconds=float(g["idle_timeout_seconds"] or idle_seconds),
                usd_per_node_hour=(
                    g["usd_per_pod_hour_spot"] if g["spot"] else g["usd_per_pod_hour_on_demand"]
                )
                or 0.0,
                usd_per_node_hour_on_demand=g["usd_per_pod_hour_on_demand"] or 0.0,
            )
        )
    return out


def twin_workload(
    *, tasks: int, task_seconds: float, schedule: list[Preemption], start_seconds: float
) -> Workload:
    """Restart-from-scratch tasks (plain Ray), the local schedule as slot traces."""
    spec = WorkloadSpec(
        tasks=Tasks(count=tasks, duration=Duration(fixed=task_seconds), cpus=1.0, max_retries=0),
        provision_seconds=start_seconds,
    )
    traces: dict[str, list[TraceRow]] = {}
    for p in schedule:
        traces.setdefault(p.group, []).append(TraceRow(p.at, p.group, p.count, p.share, p.slot))
    return Workload(
        spec=spec, durations=None, traces={g: tuple(r) for g, r in traces.items()}, file="twin"
    )


def twin_settings(config: dict) -> Settings:
    return Settings(window=float(config["window_seconds"]), drain=float(config["drain_seconds"]))


def start_seconds(events: list[dict]) -> float:
    """The median seconds from a worker's launch to its running, in a local run's events."""
    launched: dict[str, float] = {}
    waits = []
    for e in events:
        inst = e.get("instance")
        if not inst or e.get("group") == "head":
            continue
        if e["event"] == "launch":
            launched[inst] = e["t"]
        elif e["event"] == "running" and inst in launched:
            waits.append(e["t"] - launched[inst])
    return statistics.median(waits) if waits else 0.0
