"""Availability traces: how many Spot VMs a pool could get, tick by tick.

The format is the Can't Be Late dataset's (Wu et al., NSDI'24; github.com/skypilot-org/
spot-traces): one JSON object per zone and instance type,

    {"metadata": {"gap_seconds": 600}, "data": [1, 1, 0, 0, 1, ...]}

where `data[i]` holds from `i * gap_seconds` to `(i + 1) * gap_seconds`. The published files
count the instances available at the tick (its README: "each data point is the number of
available instances"): 1/0 for the single-node sets, 0..16 and 0..4 for the multi-node ones. The
paper's own simulator reads 0/1 files the other way round (1 = preempted); `values: unavailable`
reads such a file. A trace records whether capacity was there, not preemption events: the
simulator turns a fall into preemptions of the VMs above it and a stockout while it stays down.

The dataset has no license file, so spotray ships none of it: point a workload at a file you
downloaded.

A trace becomes a cap on the group's running VMs, per tick (`caps`):
- `mode: gate` (the default): unlimited while the value is at least `need`, else none (the
  paper's gang threshold: a 16-node file with `need: 16` is "the whole gang fits");
- `mode: capacity`: the value is the number of VMs the group can run.
A run starts `start_hours` into the trace (or at a random point, per run) and wraps around
at its end (`changes`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .._errors import Problem, SpecError, SpotrayError
from .._io import read_input
from .._yaml import load_document

MAX_TICKS = 10_000_000
MIN_GAP_SECONDS = 1  # the dataset's shortest tick is 30 s; shorter would flood a run with events
UNLIMITED = math.inf


@dataclass(frozen=True)
class AvailabilityTrace:
    file: str
    gap_seconds: float
    values: tuple[int, ...]

    @property
    def hours(self) -> float:
        return len(self.values) * self.gap_seconds / 3600

    def to_json(self, caps: tuple[float, ...]) -> dict:
        """What the trace is, and the share of its ticks on which the group can run a VM as
        it is read (`caps`: after `values`, `mode` and `need`)."""
        return {
            "file": self.file,
            "ticks": len(self.values),
            "gap_seconds": self.gap_seconds,
            "hours": round(self.hours, 3),
            "available_share": round(sum(1 for c in caps if c > 0) / len(caps), 4),
            "max": max(self.values),
        }

    @property
    def binary(self) -> bool:
        return set(self.values) <= {0, 1}

    def caps(self, *, mode: str, need: int, unavailable: bool) -> tuple[float, ...]:
        """The cap on running VMs at each tick (UNLIMITED or a count)."""
        values = [1 - v for v in self.values] if unavailable else self.values
        if mode == "capacity":
            return tuple(float(v) for v in values)
        return tuple(UNLIMITED if v >= need else 0.0 for v in values)


def changes(
    caps: tuple[float, ...], gap_seconds: float, start_seconds: float
) -> Iterator[tuple[float, float]]:
    """(seconds from the run's start, cap) at time 0 and at every tick boundary where the cap
    changes, the run starting `start_seconds` into the trace (which repeats at its end); finite
    if the cap never changes."""
    n = len(caps)
    first = int(start_seconds // gap_seconds)
    into = start_seconds - first * gap_seconds  # how far into its first tick the run starts
    previous = caps[first % n]
    yield 0.0, previous
    if len(set(caps)) == 1:
        return
    tick = first + 1
    while True:
        cap = caps[tick % n]
        if cap != previous:
            yield (tick - first) * gap_seconds - into, cap
            previous = cap
        tick += 1


def _line_of(text: str, pattern: str, nth: int = 0) -> int | None:
    for i, match in enumerate(re.finditer(pattern, text)):
        if i == nth:
            return text.count("\n", 0, match.start()) + 1
    return None


def _data_line(text: str, index: int, doc=None) -> int | None:
    """The line of `data[index]`: from the located reader (JSON is YAML), or, for a file it
    refuses (duplicate keys), by scanning the first array's tokens. Only on the error path."""
    if doc is not None:
        return doc.locate(("data", index))[0]
    start = re.search(r'"data"\s*:\s*\[', text)
    if start is None:
        return None
    pos = start.end()
    depth, i = 0, 0
    token = re.compile(r'\s*("(?:[^"\\]|\\.)*"|[\[\]{},]|[^\s\[\]{},]+)')
    at_item = True
    while pos < len(text):
        match = token.match(text, pos)
        if match is None:
            return None
        tok = match.group(1)
        if at_item and depth == 0 and tok not in ("]", ","):
            if i == index:
                return text.count("\n", 0, match.start(1)) + 1
            at_item = False
        if tok in ("[", "{"):
            depth += 1
        elif tok in ("]", "}"):
            if depth == 0:
                return None
            depth -= 1
        elif tok == "," and depth == 0:
            i += 1
            at_item = True
        pos = match.end()
    return None


def _located(text: str, name: str):
    """The file through spotray's located YAML reader, or False if it refuses it."""
    try:
        return load_document(text, file=name)
    except SpotrayError:
        return False


def read_availability(name: str) -> AvailabilityTrace:
    """Read an availability trace (JSON, the Can't Be Late format).

    Raises:
        SpecError: the file is not such a trace; the problem names the file, line and field.
        InputError: the file cannot be read.
    """
    text = read_input(name, what="availability trace")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(
            [Problem(f"not JSON: {exc.msg}", file=name, line=exc.lineno, column=exc.colno)]
        ) from None
    if not isinstance(doc, dict):
        raise SpecError(
            [Problem('expected an object {"metadata": ..., "data": [...]}', file=name, line=1)]
        )
    problems = []
    meta = doc.get("metadata")
    gap = meta.get("gap_seconds") if isinstance(meta, dict) else None
    if (
        isinstance(gap, bool)
        or not isinstance(gap, int | float)
        or not (MIN_GAP_SECONDS <= gap <= 86400)
        or math.isnan(gap)
    ):
        problems.append(
            Problem(
                "metadata.gap_seconds must be the seconds between ticks, in "
                f"[{MIN_GAP_SECONDS}, 86400]: {gap!r}",
                file=name,
                line=_line_of(text, r'"gap_seconds"') or _line_of(text, r'"metadata"') or 1,
                field="metadata.gap_seconds",
            )
        )
    data = doc.get("data")
    if not isinstance(data, list) or not data:
        problems.append(
            Problem(
                "data must be a non-empty list: the instances available at each tick",
                file=name,
                line=_line_of(text, r'"data"') or 1,
                field="data",
            )
        )
        raise SpecError(problems)
    if len(data) > MAX_TICKS:
        problems.append(Problem(f"more than {MAX_TICKS} ticks", file=name, field="data"))
        raise SpecError(problems)
    located = None
    for i, value in enumerate(data):
        if isinstance(value, bool) or not isinstance(value, int) or not (0 <= value <= 100_000):
            if located is None:
                located = _located(text, name)
            problems.append(
                Problem(
                    f"not a count of available instances (0..100000): {value!r}",
                    file=name,
                    line=_data_line(text, i, located or None),
                    field=f"data[{i}]",
                )
            )
            if len(problems) >= 20:
                break
    if problems:
        raise SpecError(problems)
    return AvailabilityTrace(file=name, gap_seconds=float(gap), values=tuple(data))
