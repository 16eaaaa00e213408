"""A simulated workload: the tasks, and what the cloud does meanwhile (preemptions, reclaims,
stockouts). Read from YAML; every problem names the file, line and field (and CSV rows theirs).

    tasks:
      count: 1000
      duration: {fixed: 600}          # or {exponential: {mean: 600}}, {lognormal: {median: 600,
                                      #   sigma: 0.5}}, {uniform: {low: 60, high: 900}},
                                      #   {csv: durations.csv} (one task per row: seconds)
      cpus: 1                         # Ray CPUs per task
      checkpoint_seconds: 120         # progress is saved this often (unset: from scratch)
      resumable: false                # true: progress is saved at the preemption notice
      save_seconds: 5                 # ... which takes this long (must fit Ray's drain)
      max_retries: 3                  # retries of application errors (preemptions are free)
      failure_rate: 0.0               # the chance that an attempt raises
    provision_seconds: 90             # a new node: VM, kubelet, image pull, Ray
    preemption:                       # per Spot group: one of
      cpu-spot: {rate_per_hour: 0.2}  #   Poisson, per VM
      # {hazard: [[0, 0.5], [1, 0.1]]}  rate per hour by VM age in hours (piecewise constant)
      # {trace: preemptions.csv}        rows time_seconds,group,count (a number or a share 50%)
      # {availability: {file: us-west-2a_v100_1.json}}  a Can't Be Late availability trace
      #   (instances available per tick; see _availability.py): mode gate|capacity, need: 1,
      #   start_hours: 0 or random, values: available|unavailable, drop: preempt|stockout
    reclaims: [{at: 3600, group: cpu-spot, share: 0.5}]   # zone-wide: a share of the VMs
    stockouts: [{at: 600, group: cpu-spot, seconds: 1800}]
"""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass, field
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .._errors import Problem, SpecError
from .._io import read_input
from .._spec._load import _pydantic_problems, located
from .._yaml import load_document
from ._availability import AvailabilityTrace, read_availability


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Exponential(_Model):
    mean: float = Field(gt=0, le=1e7)


class LogNormal(_Model):
    median: float = Field(gt=0, le=1e7)
    sigma: float = Field(ge=0, le=5)


class Uniform(_Model):
    low: float = Field(gt=0, le=1e7)
    high: float = Field(gt=0, le=1e7)

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is greater than high ({self.high})")
        return self


class Duration(_Model):
    """Exactly one of the ways to give task durations (seconds)."""

    fixed: float | None = Field(None, gt=0, le=1e7)
    exponential: Exponential | None = None
    lognormal: LogNormal | None = None
    uniform: Uniform | None = None
    csv: str | None = Field(None, description="A CSV file: one task per row, its seconds.")

    @model_validator(mode="after")
    def _one(self) -> Duration:
        given = [
            k
            for k in ("fixed", "exponential", "lognormal", "uniform", "csv")
            if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of fixed, exponential, lognormal, uniform, csv"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class Tasks(_Model):
    count: int | None = Field(None, ge=1, le=10_000_000)
    duration: Duration
    cpus: float = Field(1.0, gt=0, le=1024)
    gpus: int = Field(0, ge=0, le=16)
    checkpoint_seconds: float | None = Field(None, gt=0, le=1e7)
    resumable: bool = False
    save_seconds: float = Field(5.0, ge=0, le=3600)
    max_retries: int = Field(3, ge=0, le=1000)
    failure_rate: float = Field(0.0, ge=0, lt=1)


class Availability(_Model):
    """An availability trace for a Spot group (`_availability.py` has the format)."""

    file: str
    mode: Literal["gate", "capacity"] = "gate"
    need: int = Field(1, ge=1, le=100_000)  # gate: available while the value is at least this
    start_hours: float | Literal["random"] = 0.0
    values: Literal["available", "unavailable"] = "available"
    # what a fall does to running VMs: preempt those above it (the paper's reading), or only
    # stop new ones (a probe that failed to launch says nothing of VMs that run)
    drop: Literal["preempt", "stockout"] = "preempt"

    @field_validator("start_hours", mode="before")
    @classmethod
    def _hours_or_random(cls, value: object) -> object:
        if isinstance(value, bool) or (isinstance(value, str) and value != "random"):
            raise ValueError("start_hours is a number of hours or 'random'")
        return value

    @model_validator(mode="after")
    def _fields(self) -> Availability:
        if isinstance(self.start_hours, float) and not (0 <= self.start_hours <= 1e6):
            raise ValueError("start_hours must be in [0, 1e6] or 'random'")
        if self.mode == "capacity" and "need" in self.model_fields_set:
            raise ValueError("need applies to mode: gate only")
        return self


class Preemption(_Model):
    rate_per_hour: float | None = Field(None, ge=0, le=3600)
    hazard: list[tuple[float, float]] | None = Field(None, min_length=1)
    trace: str | None = None
    availability: Availability | None = None

    @model_validator(mode="after")
    def _one(self) -> Preemption:
        kinds = ("rate_per_hour", "hazard", "trace", "availability")
        given = [k for k in kinds if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of rate_per_hour, hazard, trace, availability")
        if self.hazard is not None:
            ages = [age for age, _ in self.hazard]
            if ages[0] != 0 or ages != sorted(set(ages)):
                raise ValueError("hazard ages (hours) must start at 0 and increase")
            if any(not (0 <= rate <= 3600) for _, rate in self.hazard):
                raise ValueError("hazard rates (per hour) must be in [0, 3600]")
        return self


class Reclaim(_Model):
    at: float = Field(ge=0, le=1e8)
    group: str
    share: float = Field(gt=0, le=1)


class StockoutWindow(_Model):
    at: float = Field(ge=0, le=1e8)
    group: str
    seconds: float = Field(gt=0, le=1e8)


class WorkloadSpec(_Model):
    tasks: Tasks
    provision_seconds: float = Field(90.0, ge=0, le=86400)
    preemption: dict[str, Preemption] = Field(default_factory=dict)
    reclaims: list[Reclaim] = Field(default_factory=list)
    stockouts: list[StockoutWindow] = Field(default_factory=list)


@dataclass(frozen=True)
class TraceRow:
    at: float
    group: str
    count: int | None
    share: float | None
    slot: int | None = None  # the local cluster's schedules: the group's k-th running VM


@dataclass(frozen=True)
class Workload:
    """A validated workload, with its CSV files read."""

    spec: WorkloadSpec
    durations: tuple[float, ...] | None  # from the CSV, else drawn per run
    traces: dict[str, tuple[TraceRow, ...]]  # group -> rows, in time order
    file: str
    availability: dict[str, AvailabilityTrace] = field(default_factory=dict)  # group -> trace

    @property
    def tasks(self) -> Tasks:
        return self.spec.tasks

    def caps(self, group: str) -> tuple[float, ...]:
        """A traced group's cap on running VMs per tick, as its settings read the trace."""
        a = self.spec.preemption[group].availability
        assert a is not None
        return self.availability[group].caps(
            mode=a.mode, need=a.need, unavailable=a.values == "unavailable"
        )

    @property
    def count(self) -> int:
        return len(self.durations) if self.durations is not None else self.tasks.count or 0

    def draw_durations(self, rng: random.Random) -> list[float]:
        """Each task's seconds: the CSV's, or drawn from the distribution."""
        if self.durations is not None:
            return list(self.durations)
        d = self.tasks.duration
        n = self.count
        if d.fixed is not None:
            return [d.fixed] * n
        if d.exponential is not None:
            return [rng.expovariate(1 / d.exponential.mean) for _ in range(n)]
        if d.lognormal is not None:
            mu = math.log(d.lognormal.median)
            return [rng.lognormvariate(mu, d.lognormal.sigma) for _ in range(n)]
        assert d.uniform is not None
        return [rng.uniform(d.uniform.low, d.uniform.high) for _ in range(n)]


def _relative(base: str, name: str):
    from pathlib import Path

    path = Path(name)
    return path if path.is_absolute() else Path(base).parent / path


def _durations_csv(name: str) -> tuple[float, ...]:
    text = read_input(name, what="durations CSV")
    out, problems = [], []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip() or row[0].strip().startswith("#"):
            continue
        cell = row[0].strip()
        if number == 1 and cell.lower() in ("seconds", "duration", "duration_seconds"):
            continue  # a header
        try:
            value = float(cell)
            if not (0 < value <= 1e7) or math.isnan(value):
                raise ValueError
        except ValueError:
            problems.append(
                Problem(
                    f"not a duration in seconds in (0, 1e7]: {cell!r}",
                    file=name,
                    line=number,
                    field="seconds",
                )
            )
            continue
        out.append(value)
    if problems:
        raise SpecError(problems)
    if not out:
        raise SpecError([Problem("no durations in the file", file=name, field="seconds")])
    return tuple(out)


def read_trace(name: str, groups: set[str]) -> list[TraceRow]:
    """A preemption trace: rows `time_seconds,group,count` (count a number or a share `50%`),
    a header row allowed."""
    text = read_input(name, what="preemption trace")
    out, problems = [], []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not cells or not "".join(cells) or cells[0].startswith("#"):
            continue
        if number == 1 and cells[0].lower() in ("time", "time_seconds", "seconds"):
            continue
        if len(cells) != 3:
            problems.append(Problem("expected time_seconds,group,count", file=name, line=number))
            continue
        at, group, count = cells
        try:
            t = float(at)
            if not (0 <= t <= 1e8) or math.isnan(t):
                raise ValueError
        except ValueError:
            problems.append(
                Problem(
                    f"not a time in seconds: {at!r}", file=name, line=number, field="time_seconds"
                )
            )
            continue
        if group not in groups:
            problems.append(
                Problem(
                    f"no Spot group {group!r} in the spec", file=name, line=number, field="group"
                )
            )
            continue
        try:
            if count.endswith("%"):
                share = float(count[:-1]) / 100
                if not (0 < share <= 1):
                    raise ValueError
                out.append(TraceRow(t, group, None, share))
            else:
                n = int(count)
                if not (1 <= n <= 100_000):
                    raise ValueError
                out.append(TraceRow(t, group, n, None))
        except ValueError:
            problems.append(
                Problem(
                    f"not a count (1..100000) or a share (1%..100%): {count!r}",
                    file=name,
                    line=number,
                    field="count",
                )
            )
    if problems:
        raise SpecError(problems)
    return sorted(out, key=lambda r: r.at)


def load_workload(
    name: str, spot_groups: set[str], all_groups: set[str], *, text: str | None = None
) -> Workload:
    """Read and validate a workload file against the plan's groups (Spot ones for preemption).

    Raises:
        SpecError: every problem, located (file, line, field).
        InputError: the file cannot be read or is not YAML.
    """
    if text is None:
        text = read_input(name, what="workload file")
    doc = load_document(text, file=name)
    if not isinstance(doc.data, dict):
        raise SpecError([located(doc, (), "a workload must be a YAML mapping")])
    try:
        spec = WorkloadSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError(_pydantic_problems(doc, exc)) from None
    problems = []
    if spec.tasks.count is None and spec.tasks.duration.csv is None:
        problems.append(
            located(doc, ("tasks",), "tasks.count is required (unless durations come from a CSV)")
        )
    for group in spec.preemption:
        if group not in spot_groups:
            problems.append(
                located(
                    doc, ("preemption", group), f"no Spot group {group!r} in the spec", key=True
                )
            )
    for kind, items in (("reclaims", spec.reclaims), ("stockouts", spec.stockouts)):
        wanted = spot_groups if kind == "reclaims" else all_groups
        for i, item in enumerate(items):
            if item.group not in wanted:
                what = "Spot group" if kind == "reclaims" else "worker group"
                problems.append(
                    located(doc, (kind, i, "group"), f"no {what} {item.group!r} in the spec")
                )
    if problems:
        raise SpecError(problems)
    durations = None
    if spec.tasks.duration.csv is not None:
        durations = _durations_csv(str(_relative(name, spec.tasks.duration.csv)))
    traces = {
        group: tuple(read_trace(str(_relative(name, p.trace)), {group}))
        for group, p in spec.preemption.items()
        if p.trace is not None
    }
    availability = {}
    for group, p in spec.preemption.items():
        if p.availability is None:
            continue
        a = p.availability
        trace = read_availability(str(_relative(name, a.file)))
        where = ("preemption", group, "availability")
        if a.values == "unavailable" and not trace.binary:
            problems.append(
                located(
                    doc,
                    (*where, "values"),
                    f"values: unavailable reads 0/1 files only, and {a.file} holds counts up to "
                    f"{max(trace.values)}",
                )
            )
        if a.mode == "gate" and a.need > max(trace.values):
            problems.append(
                located(
                    doc,
                    (*where, "need"),
                    f"need {a.need} is above every value of {a.file} (at most "
                    f"{max(trace.values)}): Spot would never be available",
                )
            )
        if isinstance(a.start_hours, float) and a.start_hours >= trace.hours:
            problems.append(
                located(
                    doc,
                    (*where, "start_hours"),
                    f"start_hours {a.start_hours:g} is past the end of {a.file} "
                    f"({trace.hours:.1f} h)",
                )
            )
        availability[group] = trace
    if problems:
        raise SpecError(problems)
    return Workload(
        spec=spec, durations=durations, traces=traces, file=name, availability=availability
    )


def sample_preemption_age(p: Preemption, rng: random.Random) -> float:
    """Seconds from a VM's start to its preemption (inf: never), for a Poisson rate or a
    piecewise-constant hazard by age: the inverse of the cumulative hazard at Exp(1)."""
    target = rng.expovariate(1.0)
    if p.rate_per_hour is not None:
        return math.inf if p.rate_per_hour == 0 else target / p.rate_per_hour * 3600
    assert p.hazard is not None
    spent = 0.0
    for i, (age, rate) in enumerate(p.hazard):
        end = p.hazard[i + 1][0] if i + 1 < len(p.hazard) else math.inf
        if rate > 0:
            need = (target - spent) / rate  # hours within this segment
            if age + need <= end:
                return (age + need) * 3600
            spent += rate * (end - age)
    return math.inf
