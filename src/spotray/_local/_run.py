"""`spotray run --local`: run a job on the local cluster while Spot nodes are taken back, then
report what happened (from the cloud's record and Ray's state API) and what it would cost."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from .. import _signals
from .._errors import SpotrayError
from .._spot._report import Report, group_reports, stockout_reports, task_summary
from .._spot._schedule import Preemption, Stockout
from ._cluster import CLUSTER_ID_ENV, LocalCluster, LocalClusterError, state_api

TASK_EVENTS_SETTLE_SECONDS = 3.0  # Ray reports task events about once a second


JOB_STOP_GRACE_SECONDS = 5.0


def job_env(cluster: LocalCluster) -> dict[str, str]:
    """The job's environment: RAY_ADDRESS, token auth, and the cluster's id (so that `down`
    finds a job that outlived a crashed `spotray run`)."""
    return {
        **os.environ,
        **cluster.env,
        CLUSTER_ID_ENV: cluster.config["id"],
        # the driver prints the autoscaler's events only when they are errors
        "RAY_LOG_TO_DRIVER_EVENT_LEVEL": "ERROR",
    }


def stop_process_group(proc: subprocess.Popen, grace: float = JOB_STOP_GRACE_SECONDS) -> None:
    """SIGTERM the job's whole process group (it runs in a session of its own), SIGKILL what
    is left after `grace` seconds, and reap it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
            if sig == signal.SIGTERM:  # the leader is gone; make sure its group is too
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


def run_job(
    cluster: LocalCluster,
    argv: list[str],
    *,
    preemptions: list[Preemption] = (),
    stockouts: list[Stockout] = (),
    seed: int = 0,
    price_source: dict | None = None,
    on_tick: Callable[[float, list[dict], dict[str, int]], None] | None = None,
    log: Path | None = None,
) -> Report:
    """Run `argv` with RAY_ADDRESS set, play the schedule meanwhile, and build the report.

    On KeyboardInterrupt (Ctrl-C, or SIGTERM turned into one by the CLI) the job's process
    group is stopped and the report covers the run until then, marked `interrupted`."""
    log = log or cluster.state / "logs" / f"job-{int(time.time())}.log"
    jobs_before = job_ids(cluster)
    begin = cluster.now()
    cluster.play(list(preemptions), list(stockouts), seed=seed)
    start = time.monotonic()
    interrupted = False
    proc = None
    try:
        with open(log, "wb") as out:
            try:
                proc = subprocess.Popen(
                    argv,
                    env=job_env(cluster),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # its own process group: stopped as a whole
                )
            except OSError as exc:
                raise LocalClusterError(f"cannot start the job {argv[0]!r}: {exc}") from None
            tasks: dict[str, int] = {}
            try:
                for tick in itertools.count():
                    try:
                        proc.wait(timeout=1.0)
                        break
                    except subprocess.TimeoutExpired:
                        if on_tick:
                            if tick % 3 == 0:
                                tasks = task_states(cluster) or tasks
                            on_tick(time.monotonic() - start, cluster.instances(), tasks)
            except KeyboardInterrupt:
                interrupted = True
            makespan = time.monotonic() - start
    finally:
        # stopping the job and measuring the run must not be cut short by another signal
        with _signals.ignored():
            if proc is not None and proc.poll() is None:  # interrupted, or an error on the way
                stop_process_group(proc)
            with contextlib.suppress(SpotrayError):
                cluster.cancel_schedule()
    with _signals.ignored() if interrupted else contextlib.nullcontext():
        end = cluster.now()
        instances = cluster.instances()
        # interrupted, the user is waiting: what Ray says within seconds, else nothing
        timeout = INTERRUPTED_TIMEOUT if interrupted else 30
        attempts, deaths = [], {}
        with contextlib.suppress(SpotrayError) if interrupted else contextlib.nullcontext():
            jobs = job_ids(cluster, timeout=timeout) - jobs_before
            settle = 0 if interrupted else 30
            attempts = settled_attempts(cluster, jobs, settle=settle, timeout=timeout)
            deaths = node_deaths(cluster, timeout=timeout)
    config = cluster.config
    return Report(
        cluster=cluster.name,
        command=list(argv),
        exit_code=None if interrupted else proc.returncode,
        interrupted=interrupted,
        makespan_seconds=round(makespan, 3),
        groups=group_reports(instances, config["groups"], begin, end),
        stockouts=stockout_reports(
            cluster.events(),
            instances,
            config["groups"],
            [tuple(r) for r in config.get("fallback_routes", [])],
            begin,
            end,
        ),
        price_source=price_source or {},
        time_scale=config["time_scale"],
        resource_scale=config["scale"],
        **task_summary(attempts, deaths),
    )


def node_deaths(cluster: LocalCluster, timeout: int = 30) -> dict[str, str]:
    """Ray's message on each dead node's death (e.g. "Terminated due to preemption")."""
    try:
        with state_api(cluster, timeout) as api:
            return {n.node_id: n.state_message or "" for n in api.nodes() if n.state == "DEAD"}
    except SpotrayError:
        return {}


STATE_API_LIMIT = 10_000  # Ray's own cap per request
INTERRUPTED_TIMEOUT = 5  # seconds per state API request after Ctrl-C (a loaded dashboard
# can take Ray's default 30 s per request, and Ctrl-C must end the run promptly)


def task_states(cluster: LocalCluster) -> dict[str, int]:
    """Task counts by state over the cluster (for the live view; empty if Ray cannot say)."""
    try:
        with state_api(cluster) as api:
            summary = api.task_summary(timeout=5)
    except SpotrayError:
        return {}
    counts: dict[str, int] = {}
    for entry in summary.get("cluster", {}).get("summary", {}).values():
        if entry.get("type") in ("NORMAL_TASK", "ACTOR_TASK"):
            for state, n in entry.get("state_counts", {}).items():
                counts[state] = counts.get(state, 0) + n
    return counts


def job_ids(cluster: LocalCluster, timeout: int = 30) -> set[str]:
    """The Ray jobs (drivers) the cluster has seen (Ray's state API)."""
    with state_api(cluster, timeout) as api:
        jobs = api.jobs()
    return {j.job_id for j in jobs if j.job_id}


def settled_attempts(
    cluster: LocalCluster, jobs: set[str], settle: float = 30, timeout: int = 30
) -> list[dict]:
    """Task attempts of `jobs`, once Ray has reported them all (Ray's state API), waiting at
    most `settle` seconds for that (0: what Ray says now)."""
    previous, attempts = -1, []
    deadline = time.monotonic() + settle
    while True:
        attempts = []
        for job in sorted(jobs):
            with state_api(cluster, timeout) as api:
                rows = api.tasks(filters=[("job_id", "=", job)], limit=STATE_API_LIMIT)
            if len(rows) >= STATE_API_LIMIT:
                raise LocalClusterError(
                    f"job {job} has more than {STATE_API_LIMIT} task attempts: Ray's state API "
                    "cannot list them all (set RAY_MAX_LIMIT_FROM_API_SERVER on the head)"
                )
            attempts += [_row(r) for r in rows]
        unfinished = [a for a in attempts if a["state"] not in ("FINISHED", "FAILED")]
        if (len(attempts) == previous and not unfinished) or time.monotonic() >= deadline:
            break
        previous = len(attempts)
        time.sleep(TASK_EVENTS_SETTLE_SECONDS)
    return attempts


def _row(task) -> dict:
    fields = (
        "task_id",
        "attempt_number",
        "name",
        "state",
        "type",
        "node_id",
        "error_type",
        "creation_time_ms",
        "start_time_ms",
        "end_time_ms",
    )
    data = asdict(task) if hasattr(task, "__dataclass_fields__") else dict(task)
    return {k: _plain(data.get(k)) for k in fields}


def _plain(value):
    """Enum members (TaskType.NORMAL_TASK) as their names."""
    return getattr(value, "name", value) if not isinstance(value, str | int | float) else value
