"""GKE Spot pools as a pure, clock-driven model.

It decides what GKE and Compute Engine would: which VM (GKE node) a new Pod lands on, which VMs a
preemption takes (every Pod on a VM shares its fate), stockouts, which launches are replacements
of preempted capacity, and the preemption timeline (the notice, SIGTERM `notice_seconds` later,
the kill when the Pods' share of the shutdown window ends). It keeps the record of every Pod
(`Instance`) and the event log the run report is built from.

It starts no process, thread or timer and never sleeps: a driver carries its decisions out. The
local cluster's driver (`spotray._local._cloud.Cloud`) runs one raylet per Pod and signals it;
a simulator can drive the same model with a simulated `clock`. The model is not thread-safe on
its own: the driver serializes calls (the local cluster holds one lock around them).
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Protocol

NOTICE_TO_SIGTERM_SECONDS = 1.0  # GKE: the node starts shutting down Pods right after the notice


class Stockout(Exception):
    """The group cannot get capacity now (GCE's ZONE_RESOURCE_POOL_EXHAUSTED)."""


class PoolShape(Protocol):
    """What the model needs to know of a group's node pool."""

    spot: bool
    pods_per_node: int
    machine_type: str


@dataclass
class Instance:
    """A Pod of the cluster (one raylet locally), and the VM it runs on."""

    id: str
    group: str
    kind: str  # "head" | "worker"
    spot: bool
    tags: dict[str, str]
    state: str = "provisioning"  # provisioning | running | stopping | terminated
    created: float = 0.0
    running_at: float | None = None
    noticed_at: float | None = None
    terminated_at: float | None = None
    reason: str | None = None  # preempted | scaled-down | down | exited | frozen
    pid: int | None = None
    metadata_host: str | None = None
    vm: str | None = None  # the VM (GKE node) this Pod runs on; it shares its fate
    replacement: bool = False  # launched after a preemption of its group

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class SpotModel:
    """Every Pod and VM of one cluster, and what GKE Spot does to them."""

    groups: dict[str, PoolShape]
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time  # for the event log's wall-clock stamps
    events: list[dict] = field(default_factory=list)
    instances: dict[str, Instance] = field(default_factory=dict)
    vms: dict[str, list[str]] = field(default_factory=dict)  # VM -> its Pods, in order
    preempted_vms: set[str] = field(default_factory=set)  # noticed or frozen
    # group -> its VMs in launch order, while any of their Pods lives (an index over `vms`:
    # placement and preemption look only at a group's live VMs, so a week-long simulation
    # with many thousands of VMs stays linear)
    group_vms: dict[str, list[str]] = field(default_factory=dict)
    exited: set[str] = field(default_factory=set)  # Pods whose processes are gone
    stockouts: dict[str, float] = field(default_factory=dict)  # group -> until (clock)
    preempted_groups: set[str] = field(default_factory=set)
    closing: bool = False  # shutting down: no launch is accepted
    # a launch during a stockout: "pending" (GKE: the Pod is created and stays Pending, its VM
    # comes when capacity returns) or "refuse" (clouds that reject the request at once)
    stockout_mode: str = "pending"
    _ids: itertools.count = field(default_factory=itertools.count)
    _start: float = 0.0

    def __post_init__(self) -> None:
        self._start = self.clock()

    def now(self) -> float:
        """Seconds since the model started (the run's time axis)."""
        return round(self.clock() - self._start, 3)

    def event(self, kind: str, inst: Instance | None = None, **extra) -> None:
        entry = {"t": self.now(), "wall": round(self.wall(), 3), "event": kind, **extra}
        if inst is not None:
            entry.update(instance=inst.id, group=inst.group)
        self.events.append(entry)

    # --- launches ------------------------------------------------------------------------

    def launch(self, group: str, count: int, tags: dict[str, str]) -> list[Instance]:
        """`count` new Pods of `group`, each placed on a VM, provisioning. During a stockout
        they wait for capacity (`capacity_in`), or with `stockout_mode="refuse"` the launch
        raises Stockout; so does a closing cluster. KeyError for an unknown group."""
        if self.closing:
            raise Stockout("the cluster is shutting down")
        spec = self.groups.get(group)
        if spec is None:
            raise KeyError(f"unknown group {group!r}")
        pending = self.capacity_in(group) > 0
        if pending and self.stockout_mode == "refuse":
            self.event("stockout-refused", group=group, count=count)
            raise Stockout(f"no {spec.machine_type} capacity for {group} (stockout)")
        out = []
        for _ in range(count):
            inst = Instance(
                id=f"{group}-{next(self._ids):04d}",
                group=group,
                kind="worker",
                spot=spec.spot,
                tags=dict(tags),
                created=self.now(),
                replacement=group in self.preempted_groups,
            )
            inst.vm = self.place(inst, spec)
            self.instances[inst.id] = inst
            self.event("launch", inst)
            if pending:  # accepted; it waits for capacity (a Pending Pod on GKE)
                self.event("stockout-pending", inst)
            out.append(inst)
        return out

    def capacity_in(self, group: str) -> float:
        """Seconds until `group` has capacity again (0: it has capacity now)."""
        until = self.stockouts.get(group)
        return max(0.0, until - self.clock()) if until is not None else 0.0

    def place(self, inst: Instance, spec: PoolShape) -> str:
        """The VM a new Pod lands on: the first of its group with room (`pods_per_node`) that
        is up and not being preempted, else a new one (GKE's cluster autoscaler adds a node)."""
        room = max(1, spec.pods_per_node)
        mine = self.group_vms.setdefault(inst.group, [])
        for vm in mine if room > 1 else ():  # one Pod per VM: every live VM is full
            pods = self.vms[vm]
            live = [p for p in pods if p not in self.exited]
            if live and len(live) < room and vm not in self.preempted_vms:
                pods.append(inst.id)
                return vm
        vm = f"{inst.group}-vm-{next(self._ids):04d}"
        self.vms[vm] = [inst.id]
        mine.append(vm)
        return vm

    def add_head(self, tags: dict[str, str]) -> Instance:
        inst = Instance(id="head", group="head", kind="head", spot=False, tags=dict(tags))
        self.instances[inst.id] = inst
        self.event("launch", inst)
        return inst

    def may_start(self, inst: Instance) -> bool:
        """Whether a provisioned Pod starts; if it was terminated while provisioning (or the
        cluster is closing) it is recorded as gone instead."""
        if inst.state == "provisioning" and not (self.closing and inst.kind != "head"):
            return True
        if inst.state == "provisioning":
            inst.state, inst.terminated_at, inst.reason = "terminated", self.now(), "down"
        self.exited.add(inst.id)
        return False

    def started(self, inst: Instance, pid: int) -> None:
        inst.pid = pid
        inst.state, inst.running_at = "running", self.now()
        self.event("running", inst)

    def start_failed(self, inst: Instance, error: str) -> None:
        inst.state, inst.reason = "terminated", f"launch failed: {error}"
        inst.terminated_at = self.now()
        self.event("launch-failed", inst, error=error)
        self.exited.add(inst.id)

    def process_exited(self, inst: Instance, code: int | None) -> bool:
        """A Pod's processes are gone; True if its VM is gone with it (its last Pod)."""
        if inst.state not in ("terminated", "stopping"):  # stopping: the stop finishes it
            inst.state, inst.terminated_at = "terminated", self.now()
            inst.reason = inst.reason or "exited"
            self.event("exited", inst, code=code)
        self.exited.add(inst.id)
        pods = self.vms.get(inst.vm or "", [])
        gone = bool(inst.vm) and all(p in self.exited for p in pods)
        mine = self.group_vms.get(inst.group)
        if gone and mine and inst.vm in mine:
            mine.remove(inst.vm)
        return gone

    def stopped(self, inst: Instance) -> None:
        """The end of a stop (the window's end, or the process gone): terminated."""
        if inst.state != "terminated":
            inst.state, inst.terminated_at = "terminated", self.now()
            self.event("terminated", inst, reason=inst.reason)

    # --- the autoscaler scales down, `down` stops everything -------------------------------

    def scale_down(self, instance_id: str) -> Instance | None:
        """The Pod to stop for a scale-down request, or None if it is already going."""
        inst = self.instances.get(instance_id)
        if inst is None or inst.state in ("terminated", "stopping"):
            return None
        inst.reason = inst.reason or "scaled-down"
        self.event("terminate", inst)
        return inst

    def alive(self, kind: str | None = None) -> list[Instance]:
        return [
            i
            for i in self.instances.values()
            if i.state != "terminated" and (kind is None or i.kind == kind)
        ]

    # --- Spot ----------------------------------------------------------------------------

    def stockout(self, group: str, seconds: float) -> None:
        if group not in self.groups:
            raise KeyError(f"unknown group {group!r}")
        self.stockouts[group] = self.clock() + seconds
        self.event("stockout", group=group, seconds=seconds)

    def running_vms(self, group: str) -> list[str]:
        """The group's VMs with a running Pod and no notice, oldest first."""
        out = []
        for vm in self.group_vms.get(group, ()):
            if vm not in self.preempted_vms and any(
                self.instances[p].state == "running" for p in self.vms[vm]
            ):
                out.append(vm)
        return out

    def choose_vms(
        self,
        group: str,
        *,
        count: int = 1,
        share: float | None = None,
        slot: int | None = None,
        rng: random.Random | None = None,
    ) -> list[str]:
        """Which running VMs of `group` a preemption takes: by launch-order slot, a share
        (rounded up), or `count` chosen at random."""
        vms = self.running_vms(group)
        if slot is not None:
            return [vms[slot]] if slot < len(vms) else []
        n = math.ceil(len(vms) * share) if share is not None else count
        return (rng or random.Random()).sample(vms, min(n, len(vms)))

    def preempt(
        self,
        group: str,
        *,
        count: int = 1,
        share: float | None = None,
        slot: int | None = None,
        rng: random.Random | None = None,
    ) -> tuple[list[str], list[str], list[Instance]]:
        """Preempt Spot VMs of `group`: every Pod on a chosen VM gets the notice. Returns the
        VMs taken, the Pods noticed, and the running Pods whose shutdown timeline the driver
        must now play (notice, SIGTERM after `notice_seconds`, kill at the window's end)."""
        spec = self.groups.get(group)
        if spec is None:
            raise KeyError(f"unknown group {group!r}")
        if not spec.spot:
            raise ValueError(f"group {group!r} is on-demand: it is never preempted")
        chosen = self.choose_vms(group, count=count, share=share, slot=slot, rng=rng)
        noticed, to_stop = [], []
        for vm in chosen:
            pods, stopping = self.preempt_vm(vm)
            noticed += pods
            to_stop += stopping
        return chosen, noticed, to_stop

    def preempt_vm(self, vm: str) -> tuple[list[str], list[Instance]]:
        """Preempt one VM: every Pod on it gets the notice (a Pod still provisioning never
        starts). Returns the Pods noticed and the running ones whose shutdown timeline the
        driver must play."""
        noticed, to_stop = [], []
        self.preempted_vms.add(vm)
        for pod in self.vms[vm]:
            inst = self.instances[pod]
            self.preempted_groups.add(inst.group)
            if inst.state == "provisioning":  # never gets to start
                inst.state, inst.reason = "terminated", "preempted"
                inst.noticed_at = inst.terminated_at = self.now()
                self.event("notice", inst)
            elif inst.state == "running":
                inst.noticed_at = self.now()
                inst.state, inst.reason = "stopping", "preempted"  # no one else stops it
                self.event("notice", inst)
                to_stop.append(inst)
            else:
                continue
            noticed.append(pod)
        return noticed, to_stop

    def freeze(
        self, group: str, count: int = 1, rng: random.Random | None = None
    ) -> list[Instance]:
        """Freeze running VMs of `group` (no notice, no drain: a VM behind a network black
        hole); returns the running Pods on them, for the driver to stop and later kill."""
        if group not in self.groups:
            raise KeyError(f"unknown group {group!r}")
        vms = self.running_vms(group)
        frozen = []
        for vm in (rng or random.Random()).sample(vms, min(count, len(vms))):
            self.preempted_vms.add(vm)
            for pod in self.vms[vm]:
                inst = self.instances[pod]
                if inst.state != "running":
                    continue
                inst.state, inst.reason = "stopping", "frozen"
                self.event("freeze", inst)
                frozen.append(inst)
        return frozen


def preemption_timeline(
    notice_seconds: float, window_seconds: float, pre_stop_seconds: float = 0.0
) -> tuple[float, float]:
    """GKE's order after a preemption notice: (seconds until SIGTERM, seconds from SIGTERM to
    the kill). SIGTERM follows the notice (and the preStop hook, which runs first and counts
    against the window); whatever still runs when the Pods' window ends is killed."""
    until_sigterm = notice_seconds + pre_stop_seconds
    return until_sigterm, max(0.0, window_seconds - until_sigterm)
