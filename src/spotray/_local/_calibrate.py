"""The simulator against the local Spot cluster: one job, the same seeded preemption schedule,
run for real (Ray on this machine, time-scaled) and simulated (`_sim._twin`), compared on
makespan and work redone. `bench/calibrate.py` prints the comparison; a test holds a short one.

The job is `examples/resumable_job.py --plain`: plain Ray tasks that start over when their node
is preempted, each logging every step it runs, so the work redone is counted exactly.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from .._plan import Plan
from .._sim._engine import Engine
from .._sim._twin import start_seconds, twin_groups, twin_settings, twin_workload
from .._spot._schedule import poisson


@dataclass(frozen=True)
class Pair:
    seed: int
    local_makespan: float
    local_redone: float
    sim_makespan: float
    sim_redone: float
    preemptions: int  # events in the schedule that found a VM, locally
    start_seconds: float  # the local nodes' measured launch -> running


def run_pair(
    plan: Plan,
    *,
    job: Path,
    tasks: int,
    steps: int,
    step_seconds: float,
    mean_seconds: float,
    seed: int,
    time_scale: float = 5.0,
    horizon: float = 600.0,
) -> Pair:
    from .. import local

    spot = {g.name: g.max_replicas for g in plan.workers if g.pool.spot}
    schedule = poisson(spot, mean_seconds, horizon, seed)
    work = Path(tempfile.mkdtemp(prefix="spotray-calibrate-"))
    log = work / "steps.log"
    cluster = local.up(plan, time_scale=time_scale)
    try:
        argv = [
            sys.executable, str(job), "--plain", "--tasks", str(tasks), "--steps", str(steps),
            "--step-seconds", str(step_seconds), "--log", str(log), "--store", str(work / "s"),
        ]  # fmt: skip
        report = local.run_job(cluster, argv, preemptions=schedule, seed=seed)
        events = cluster.events()
        config = cluster.config
    finally:
        cluster.down()
    ran = len(log.read_text().splitlines()) * step_seconds if log.exists() else 0.0
    useful = tasks * steps * step_seconds
    start = start_seconds(events)
    engine = Engine(
        twin_groups(config["groups"], task_cpus=1.0, idle_seconds=config["idle_timeout_seconds"]),
        twin_workload(
            tasks=tasks, task_seconds=steps * step_seconds, schedule=schedule, start_seconds=start
        ),
        replace(twin_settings(config), warm=True),  # the local cluster was up before the job
        seed=seed,
    )
    result = engine.run()
    return Pair(
        seed=seed,
        local_makespan=report.makespan_seconds,
        local_redone=max(0.0, ran - useful),
        sim_makespan=result.makespan,
        sim_redone=result.redone_seconds,
        preemptions=sum(1 for e in events if e["event"] == "notice"),
        start_seconds=start,
    )
