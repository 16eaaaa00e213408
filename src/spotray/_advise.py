"""`spotray advise`: for each worker group, the machine types that give its Ray Pods the most
for the money, ranked by USD per *useful* vCPU-hour (what the Pods on a node request, after
allocatable, system DaemonSets and packing), at the group's own market (Spot or on-demand).

Every candidate is the group resolved by the plan on another machine type (`resolve_group`):
the same allocatable, DaemonSets, Pods per node and prices as `plan`, `explain` and `cost`.
GPU groups are ranked among the machines that carry their accelerator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._cost import GroupCost, group_cost
from ._errors import InputError
from ._plan import RayGroup, catalog
from ._plan._model import ARM_SERIES
from ._plan._resolve import resolve_group
from ._spec import Spec


@dataclass(frozen=True)
class Candidate:
    """One machine type for one group: its cost figures, and why it ranks where it does."""

    cost: GroupCost
    cpu: str  # the Pod it was priced with
    memory: str
    used: float  # share of the node's offer the Pods use (the scarcer of CPU and memory)
    overhead: float  # share of the machine's vCPUs not allocatable to Pods (kubelet, DaemonSets)
    saving: float | None  # vs the group's current machine, per useful vCPU-hour
    region: str = ""
    arm: bool = False  # an Arm machine (Ray's images are multi-arch; yours must be too)
    vcpus: float = 0.0  # the machine's

    @property
    def list_vcpu_hour(self) -> float:
        """The machine's price at the group's market per vCPU-hour (before packing)."""
        price = self.cost.usd_per_node_hour
        return price / self.vcpus if price and self.vcpus else 0.0

    @property
    def machine(self) -> str:
        return self.cost.machine


@dataclass(frozen=True)
class GroupAdvice:
    group: str
    index: int  # in spec.workers
    market: str  # "spot" or "on-demand"
    current: Candidate
    ranked: tuple[Candidate, ...]  # cheapest per useful vCPU-hour first

    @property
    def best(self) -> Candidate | None:
        return self.ranked[0] if self.ranked else None

    def best_in(self, region: str) -> Candidate | None:
        return next((c for c in self.ranked if c.region == region), None)

    def reason(self, other: Candidate) -> str:
        """Why `other` costs what it does against the current machine."""
        now = self.current
        parts = [
            f"packing {other.used:.0%} vs {now.used:.0%}",
            f"overhead {other.overhead:.0%} vs {now.overhead:.0%}",
        ]
        if self.market == "spot":
            if other.cost.discount is not None and now.cost.discount is not None:
                parts.append(f"Spot discount {other.cost.discount:.0%} vs {now.cost.discount:.0%}")
        else:  # an on-demand group pays list price: its price per vCPU of the machine matters
            parts.append(
                f"on-demand ${other.list_vcpu_hour:.4f} vs ${now.list_vcpu_hour:.4f} per vCPU-h"
            )
        if other.arm and not now.arm:
            parts.append("Arm: needs an arm64 (multi-arch) image")
        if other.region != now.region:
            parts.append(f"in {other.region}")
        return ", ".join(parts)


def _accelerator(group: RayGroup) -> str | None:
    return group.pool.gpu_type


def _candidate(resolved: RayGroup, current: GroupCost | None) -> Candidate | None:
    cost = group_cost(resolved)
    if cost.usd_per_useful_vcpu_hour is None or resolved.pods_per_node == 0:
        return None
    machine = resolved.pool.machine
    saving = None
    if current is not None and current.usd_per_useful_vcpu_hour:
        saving = 1 - cost.usd_per_useful_vcpu_hour / current.usd_per_useful_vcpu_hour
    return Candidate(
        cost=cost,
        cpu=resolved.pod.cpu,
        memory=resolved.pod.memory,
        used=max(resolved.used),
        overhead=1 - resolved.pool.available.cpu_millis / (machine.vcpus * 1000),
        vcpus=machine.vcpus,
        saving=None if saving is None else round(saving, 4),
        region=resolved.pool.region,
        arm=machine.series in ARM_SERIES,
    )


def advise(
    spec: Spec, plan, *, fill: bool = False, top: int = 5, regions: tuple[str, ...] = ()
) -> list[GroupAdvice]:
    """For each worker group of `spec` (whose plan is `plan`): the machine types, ranked.

    `fill`: price each machine with the group's Pods grown to fill its nodes (as many per node
    as fit, at most the group's max replicas), instead of the group's own Pod size. `regions`:
    rank the machines of these regions too (their zones and prices)."""
    from ._api import in_region

    specs = [spec] + [in_region(spec, r) for r in regions if r != spec.gcp.region]
    out = []
    for index, planned in enumerate(plan.workers):
        current = _candidate(planned, None)
        if current is None:
            continue
        ranked = []
        for where in specs:
            ranked += _ranked(where, index, planned, current, fill)
        ranked.sort(key=lambda c: (c.cost.usd_per_useful_vcpu_hour, c.machine, c.region))
        out.append(
            GroupAdvice(
                group=planned.name,
                index=index,
                market="spot" if planned.pool.spot else "on-demand",
                current=current,
                ranked=tuple(ranked[:top]),
            )
        )
    return out


def _ranked(spec: Spec, index: int, planned: RayGroup, current: Candidate, fill: bool):
    group = spec.workers[index]
    accelerator = _accelerator(planned)
    home = spec.gcp.region == planned.pool.region
    for machine in catalog().machines.values():
        if not machine.prices or (home and machine.name == planned.pool.machine.name):
            continue
        bundled = dict(machine.bundled_gpus)
        if accelerator is None and bundled:
            continue  # CPU work is not priced on GPU machines
        if accelerator is not None and accelerator not in bundled and group.gpu is None:
            continue  # a GPU group: only machines with its accelerator
        changes: dict = {"machine_type": machine.name}
        if fill:
            changes |= {"cpu_limit": None, "memory_limit": None}
        candidate_group = group.model_copy(update=changes)
        resolved = resolve_group(spec, index, candidate_group)
        if resolved is None or (accelerator and resolved.pool.gpu_type != accelerator):
            continue
        if fill:  # the same number of Pods per node, each grown to fill its share
            pods = min(resolved.pods_per_node, max(1, group.max_replicas))
            cpu, memory = resolved.filling_pod(pods)
            resolved = resolve_group(
                spec, index, candidate_group.model_copy(update={"cpu": cpu, "memory": memory})
            )
            if resolved is None:
                continue
        found = _candidate(resolved, current.cost)
        if found is not None:
            yield found


def applied(spec: Spec, text: str, advice: list[GroupAdvice]) -> str:
    """The spec's `text` with each advised group's `machine_type` set to its best candidate
    (only where it saves), everything else as written (comments too)."""
    doc = spec._source
    if doc is None:
        raise InputError("--apply needs a spec read from a file")
    lines = text.splitlines(keepends=True)
    for item in advice:
        best = item.best_in(spec.gcp.region)  # a machine type, not a move to another region
        if best is None or not best.saving or best.saving <= 0:
            continue
        path = ("workers", item.index, "machine_type")
        line, column = doc.locate(path)
        if line is None or path not in doc.values:
            raise InputError(
                f"{doc.file}: workers[{item.index}].machine_type is not written out; cannot apply"
            )
        text = lines[line - 1]
        start = (column or 1) - 1
        match = re.match(r"(['\"]?)([A-Za-z0-9-]+)\1", text[start:])
        if match is None:
            raise InputError(f"{doc.file}:{line}: cannot read machine_type to replace it")
        lines[line - 1] = text[:start] + best.machine + text[start + match.end() :]
    return "".join(lines)
