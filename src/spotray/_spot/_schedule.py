"""When Spot nodes are taken back: a seeded, reproducible schedule of preemptions and stockouts.

A Poisson process per Spot group (mean seconds between preemptions *per VM*) is drawn over
the group's VM slots (0 .. most VMs - 1): an event for slot k preempts the group's k-th running
VM (in launch order), with every Pod on it, if there is one, and nothing otherwise. So the schedule depends
only on the seed, while what it hits depends on how many nodes run then, as on GKE.
Traces (CSV `time,group,count`, count a number or a share like `50%`) replay exact events,
including mass preemptions.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass

from .._bounds import positive
from .._errors import InputError

MAX_EVENTS = 100_000  # a schedule is played by one thread; far more than any run needs
MAX_SCHEDULE_SECONDS = 366 * 24 * 3600.0  # a year: no event is further away than that


@dataclass(frozen=True, order=True)
class Preemption:
    at: float  # seconds after the start
    group: str
    count: int = 1  # nodes, unless `share` is set
    share: float | None = None  # a fraction of the group's running nodes (mass preemption)
    slot: int | None = None  # Poisson events: which running node (launch order)


@dataclass(frozen=True, order=True)
class Stockout:
    at: float
    group: str
    seconds: float


def poisson(
    groups: dict[str, int], mean_seconds: float, horizon: float, seed: int
) -> list[Preemption]:
    """Events for every group (name -> most VMs) until `horizon`, one stream per VM slot.

    Raises InputError for a mean or horizon that is not a positive finite number, or a
    schedule that would hold more than MAX_EVENTS events on average."""
    mean_seconds = positive("--preempt-rate", mean_seconds)
    horizon = positive("--horizon", horizon, high=MAX_SCHEDULE_SECONDS)
    expected = sum(groups.values()) * horizon / mean_seconds
    if expected > MAX_EVENTS:
        raise InputError(
            f"--horizon {horizon:g} s at --preempt-rate {mean_seconds:g} s over "
            f"{sum(groups.values())} Spot VM(s) draws ~{expected:.3g} preemptions; at most "
            f"{MAX_EVENTS} (shorten the horizon or raise the rate's mean)"
        )
    rng = random.Random(seed)
    events = []
    for group in sorted(groups):
        for slot in range(groups[group]):
            at = rng.expovariate(1 / mean_seconds)
            while at < horizon:
                events.append(Preemption(round(at, 3), group, 1, None, slot))
                at += rng.expovariate(1 / mean_seconds)
    return sorted(events)


def read_trace(text: str, file: str, groups: set[str]) -> list[Preemption]:
    """`time,group,count` rows (a header row is optional); count `N` or `P%`."""
    events = []
    if "\0" in text:
        raise InputError(f"{file}: binary data, not a CSV trace")
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if len(events) >= MAX_EVENTS:
            raise InputError(f"{file}:{number}: more than {MAX_EVENTS} events")
        if not row or row[0].strip().startswith("#"):
            continue
        if number == 1 and row[0].strip().lower() == "time":
            continue
        where = f"{file}:{number}"
        if len(row) != 3:
            raise InputError(f"{where}: expected 3 columns time,group,count, got {len(row)}")
        at_text, group, count_text = (c.strip() for c in row)
        try:
            at = float(at_text)
        except ValueError:
            raise InputError(f"{where}: time: {at_text!r} is not a number of seconds") from None
        if not 0 <= at <= MAX_SCHEDULE_SECONDS:  # NaN fails this too
            raise InputError(
                f"{where}: time: {at_text!r} is not a number of seconds in 0..{MAX_SCHEDULE_SECONDS:g}"
            )
        if group not in groups:
            raise InputError(f"{where}: group: {group!r} is not a Spot group ({sorted(groups)})")
        if count_text.endswith("%"):
            try:
                share = float(count_text[:-1]) / 100
            except ValueError:
                share = -1.0
            if not 0 < share <= 1:  # NaN fails this too
                raise InputError(f"{where}: count: {count_text!r} is not a share in (0%, 100%]")
            events.append(Preemption(at, group, 0, share))
        else:
            if not count_text.isdigit() or int(count_text) < 1:
                raise InputError(f"{where}: count: {count_text!r} is not a positive whole number")
            events.append(Preemption(at, group, int(count_text)))
    return sorted(events)
