"""What a local run did and what it would cost on GKE: pure functions over the cloud's record
(instances, events) and Ray's task attempts (its state API).

- makespan: the job's wall-clock seconds.
- nodes per group, within the run: launched, preempted (got a notice), replaced (launched
  after a preemption of its group), and node-seconds (running → gone, clipped to the run).
- task attempts: total, failed, retried (attempt_number > 0), and failed by node loss.
- task-seconds: of finished attempts (work that counted) and failed ones (work lost);
  goodput = counted / (counted + lost).
- stockouts: for each Spot group with an on-demand fallback, the seconds it was stocked out and
  the fallback group's Pods launched meanwhile: their node-seconds, at the on-demand price,
  against the same seconds at the Spot group's price.
- cost: each group's node-seconds, as GKE Pods of the plan's machine, at the group's own
  market (Spot or on-demand) and, for comparison, all on-demand; prices per Pod-hour are the
  node's price divided by Pods per node (the plan's price data, with its date and source).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from .._report_schema import SCHEMA_VERSION


@dataclass
class GroupReport:
    name: str
    spot: bool
    launched: int = 0
    preempted: int = 0
    replaced: int = 0
    node_seconds: float = 0.0
    usd_as_run: float | None = 0.0
    usd_on_demand: float | None = 0.0


@dataclass
class StockoutReport:
    group: str
    fallback: str
    stocked_out_seconds: float
    fallback_launched: int
    fallback_node_seconds: float
    usd_fallback: float | None
    usd_at_spot: float | None
    usd_extra: float | None


@dataclass
class Report:
    """A run's report; `to_json` follows `spotray._report_schema.SCHEMA` (docs/report.md)."""

    cluster: str
    command: list[str]
    exit_code: int | None
    makespan_seconds: float
    groups: list[GroupReport]
    task_attempts: int
    tasks: int
    failed_attempts: int
    retried_attempts: int
    failed_by_cause: dict[str, int]
    attempts_by_cause: dict[str, int]
    node_deaths_by_ray: dict[str, int]
    task_seconds_ok: float
    task_seconds_lost: float
    price_source: dict = field(default_factory=dict)
    time_scale: float = 1.0
    resource_scale: float = 1.0
    interrupted: bool = False
    stockouts: list[StockoutReport] = field(default_factory=list)

    @property
    def goodput(self) -> float | None:
        total = self.task_seconds_ok + self.task_seconds_lost
        return self.task_seconds_ok / total if total else None

    @property
    def preempted(self) -> int:
        return sum(g.preempted for g in self.groups)

    def to_json(self) -> dict:
        out = {"schema_version": SCHEMA_VERSION, **asdict(self)}
        out["goodput"] = self.goodput
        out["usd_as_run"] = _sum(g.usd_as_run for g in self.groups)
        out["usd_on_demand"] = _sum(g.usd_on_demand for g in self.groups)
        return out


def _sum(values) -> float | None:
    values = list(values)
    return None if any(v is None for v in values) else round(sum(values), 6)


def group_reports(
    instances: list[dict], groups: list[dict], begin: float, end: float
) -> list[GroupReport]:
    """Per worker group, within the run [begin, end] (the cloud's clock, seconds): nodes
    launched, preempted (notice) and replaced (launched after a preemption of the group in the
    run), and node-seconds (the overlap of each node's running time with the run)."""

    def within(t: float | None) -> bool:
        return t is not None and begin <= t <= end

    out = []
    for g in groups:
        mine = [i for i in instances if i["group"] == g["name"] and i["kind"] == "worker"]
        notices = sorted(i["noticed_at"] for i in mine if within(i["noticed_at"]))
        seconds = sum(_node_seconds(i, begin, end) for i in mine)
        own = g["usd_per_pod_hour_spot"] if g["spot"] else g["usd_per_pod_hour_on_demand"]
        on_demand = g["usd_per_pod_hour_on_demand"]
        out.append(
            GroupReport(
                name=g["name"],
                spot=g["spot"],
                launched=sum(1 for i in mine if within(i["created"])),
                preempted=len(notices),
                replaced=sum(
                    1
                    for i in mine
                    if within(i["created"]) and notices and i["created"] >= notices[0]
                ),
                node_seconds=round(seconds, 3),
                usd_as_run=None if own is None else round(seconds / 3600 * own, 6),
                usd_on_demand=None if on_demand is None else round(seconds / 3600 * on_demand, 6),
            )
        )
    return out


def _node_seconds(inst: dict, begin: float, end: float) -> float:
    if inst["running_at"] is None:
        return 0.0
    stop = inst["terminated_at"] if inst["terminated_at"] is not None else end
    return max(0.0, min(stop, end) - max(inst["running_at"], begin))


def stockout_windows(events: list[dict], group: str, begin: float, end: float) -> list[tuple]:
    """The group's stockouts as merged (start, end) windows of the cloud's clock, clipped to
    [begin, end]."""
    raw = sorted(
        (e["t"], e["t"] + e["seconds"])
        for e in events
        if e.get("event") == "stockout" and e.get("group") == group
    )
    merged: list[list[float]] = []
    for start, stop in raw:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    return [(max(a, begin), min(b, end)) for a, b in merged if min(b, end) > max(a, begin)]


def stockout_reports(
    events: list[dict],
    instances: list[dict],
    groups: list[dict],
    routes: list[tuple[str, str]],
    begin: float,
    end: float,
) -> list[StockoutReport]:
    """For each (Spot group, fallback group) route whose Spot group was stocked out within the
    run: the fallback's Pods launched meanwhile, what they ran and cost, and what the same time
    would have cost on Spot."""
    by_name = {g["name"]: g for g in groups}
    out = []
    for spot, fallback in routes:
        windows = stockout_windows(events, spot, begin, end)
        if not windows:
            continue
        launched = [
            i
            for i in instances
            if i["group"] == fallback
            and i["kind"] == "worker"
            and any(a <= i["created"] <= b for a, b in windows)
        ]
        seconds = sum(_node_seconds(i, begin, end) for i in launched)
        od = by_name[fallback]["usd_per_pod_hour_on_demand"]
        sp = by_name[spot]["usd_per_pod_hour_spot"]
        usd = None if od is None else round(seconds / 3600 * od, 6)
        at_spot = None if sp is None else round(seconds / 3600 * sp, 6)
        out.append(
            StockoutReport(
                group=spot,
                fallback=fallback,
                stocked_out_seconds=round(sum(b - a for a, b in windows), 3),
                fallback_launched=len(launched),
                fallback_node_seconds=round(seconds, 3),
                usd_fallback=usd,
                usd_at_spot=at_spot,
                usd_extra=None if usd is None or at_spot is None else round(usd - at_spot, 6),
            )
        )
    return out


# Ray's own words for why a node died (ray.dashboard.utils.compose_state_message)
RAY_PREEMPTION = "Terminated due to preemption"  # death reason AUTOSCALER_DRAIN_PREEMPTED


def death_class(message: str | None) -> str:
    """How Ray recorded a node's death: preemption, unexpected, expected, idle, unknown."""
    text = (message or "").lower()
    for cls in ("preemption", "unexpected", "expected", "idle"):
        if cls in text:
            return cls
    return "unknown"


def task_summary(attempts: list[dict], node_deaths: dict[str, str] | None = None) -> dict:
    """Counts and seconds from Ray's task attempts (state API rows, as dicts); `node_deaths`
    maps a node id to Ray's message on its death, where known.

    Failed attempts by cause: `preempted` (their node died: on the local cluster nodes die
    of preemption; Ray's own classification of those deaths is in `node_deaths_by_ray`),
    `application_error` (the task raised), `other` (the worker died, or anything else)."""
    normal = [a for a in attempts if a.get("type") in (None, "NORMAL_TASK", "ACTOR_TASK")]
    failed = [a for a in normal if a.get("state") == "FAILED"]
    # an attempt lost with its node may have no end time: it ended when its retry was made
    retried_at = {
        (a["task_id"], a.get("attempt_number", 0) - 1): a.get("creation_time_ms")
        or a.get("start_time_ms")
        for a in normal
        if a.get("attempt_number", 0) > 0
    }

    def seconds(a: dict) -> float:
        start = a.get("start_time_ms")
        end = a.get("end_time_ms") or retried_at.get((a["task_id"], a.get("attempt_number", 0)))
        ok = start is not None and end is not None and end >= start
        return (end - start) / 1000 if ok else 0.0

    return {
        "task_attempts": len(normal),
        "tasks": len({a["task_id"] for a in normal}),
        "failed_attempts": len(failed),
        "retried_attempts": sum(1 for a in normal if a.get("attempt_number", 0) > 0),
        "failed_by_cause": dict(Counter(str(a.get("error_type") or "UNKNOWN") for a in failed)),
        "attempts_by_cause": dict(Counter(_cause(a) for a in failed)),
        "node_deaths_by_ray": dict(
            Counter(
                death_class((node_deaths or {}).get(a.get("node_id") or ""))
                for a in failed
                if a.get("error_type") == "NODE_DIED"
            )
        ),
        "task_seconds_ok": round(
            sum(seconds(a) for a in normal if a.get("state") == "FINISHED"), 3
        ),
        "task_seconds_lost": round(sum(seconds(a) for a in failed), 3),
    }


def _cause(attempt: dict) -> str:
    kind = attempt.get("error_type")
    if kind == "NODE_DIED":
        return "preempted"
    if kind == "TASK_EXECUTION_EXCEPTION":
        return "application_error"
    return "other"
