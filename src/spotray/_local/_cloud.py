"""The emulated cloud behind the local cluster: instances (one raylet each), Spot preemptions,
stockouts and provisioning delays, as GCE and GKE would do them.

Ray's autoscaler asks it for nodes through spotray's node provider (an HTTP client, like a
cloud provider's API client); `spotray preempt`, the preemption schedule and `spotray down`
act on it too. A preemption follows GKE's order: the instance's metadata server reports
`preempted: TRUE` (the notice), the node gets SIGTERM shortly after (Ray drains on it), and
whatever is still running when the shutdown window ends is killed.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import _bounds
from ._metadata import InstanceMetadata, MetadataServer
from ._shape import LocalGroup

NOTICE_TO_SIGTERM_SECONDS = 1.0  # GKE: the node starts shutting down Pods right after the notice
STOP_GRACE_SECONDS = 10.0
MAX_STOCKOUT_SECONDS = 7 * 24 * 3600.0  # scale-down and `down`: SIGTERM, then kill after this long


class Stockout(Exception):
    """The group cannot get capacity now (GCE's ZONE_RESOURCE_POOL_EXHAUSTED)."""


@dataclass
class Instance:
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
    reason: str | None = None  # preempted | scaled-down | down | exited
    pid: int | None = None
    metadata_host: str | None = None
    vm: str | None = None  # the VM (GKE node) this Pod runs on; it shares its fate
    replacement: bool = False  # launched after a preemption of its group

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Cloud:
    """All instances of one local cluster; thread-safe; owns their processes."""

    groups: dict[str, LocalGroup]
    launch: Callable[[Instance, LocalGroup | None], subprocess.Popen]
    project: str = "spotray-local"
    window_seconds: float = 15.0  # the Pods' share of the Spot shutdown window (time-scaled)
    notice_seconds: float = NOTICE_TO_SIGTERM_SECONDS
    provision_seconds: float = 0.0
    # what runs between the notice and SIGTERM, as a Pod's preStop hook does (the drain)
    pre_stop: Callable[[Instance], None] | None = None
    clock: Callable[[], float] = time.monotonic
    events: list[dict] = field(default_factory=list)
    instances: dict[str, Instance] = field(default_factory=dict)
    _procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    _vms: dict[str, list[str]] = field(default_factory=dict)  # VM -> its Pods, in order
    _vm_servers: dict[str, MetadataServer] = field(default_factory=dict)  # one per VM
    _preempted_vms: set[str] = field(default_factory=set)
    _exited: set[str] = field(default_factory=set)  # instances whose processes are gone
    _stockouts: dict[str, float] = field(default_factory=dict)  # group -> until (clock)
    _preempted_groups: set[str] = field(default_factory=set)
    _closing: bool = False
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: itertools.count = field(default_factory=itertools.count)
    _start: float = 0.0

    def __post_init__(self) -> None:
        self._start = self.clock()

    def now(self) -> float:
        return round(self.clock() - self._start, 3)

    def _event(self, kind: str, inst: Instance | None = None, **extra) -> None:
        entry = {"t": self.now(), "wall": round(time.time(), 3), "event": kind, **extra}
        if inst is not None:
            entry.update(instance=inst.id, group=inst.group)
        self.events.append(entry)

    # --- what the autoscaler's node provider calls -------------------------------------

    def create(self, group: str, count: int, tags: dict[str, str]) -> list[str]:
        """Start `count` instances of `group` (after the provisioning delay)."""
        with self._lock:
            if self._closing:
                raise Stockout("the cluster is shutting down")
            spec = self.groups.get(group)
            if spec is None:
                raise KeyError(f"unknown group {group!r}")
            until = self._stockouts.get(group)
            if until is not None and self.clock() < until:
                self._event("stockout-refused", group=group, count=count)
                raise Stockout(f"no {spec.machine_type} capacity for {group} (stockout)")
            ids = []
            for _ in range(count):
                inst = Instance(
                    id=f"{group}-{next(self._ids):04d}",
                    group=group,
                    kind="worker",
                    spot=spec.spot,
                    tags=dict(tags),
                    created=self.now(),
                    replacement=group in self._preempted_groups,
                )
                inst.vm = self._place(inst, spec)
                self.instances[inst.id] = inst
                self._event("launch", inst)
                ids.append(inst.id)
                threading.Thread(target=self._boot, args=(inst, spec), daemon=True).start()
            return ids

    def _place(self, inst: Instance, spec: LocalGroup) -> str:
        """The VM a new Pod lands on: the first of its group with room (`pods_per_node`) that
        is up and not being preempted, else a new one (GKE's cluster autoscaler adds a node)."""
        room = max(1, spec.pods_per_node)
        for vm, pods in self._vms.items():
            live = [p for p in pods if p not in self._exited]
            if (
                self.instances[pods[0]].group == inst.group
                and live
                and len(live) < room
                and vm not in self._preempted_vms
            ):
                pods.append(inst.id)
                return vm
        vm = f"{inst.group}-vm-{next(self._ids):04d}"
        self._vms[vm] = [inst.id]
        return vm

    def add_head(self, tags: dict[str, str]) -> Instance:
        with self._lock:
            inst = Instance(id="head", group="head", kind="head", spot=False, tags=dict(tags))
            self.instances[inst.id] = inst
            self._event("launch", inst)
        self._boot(inst, None)
        return inst

    def _boot(self, inst: Instance, spec: LocalGroup | None) -> None:
        if spec is not None and self.provision_seconds:
            time.sleep(self.provision_seconds)
        with self._lock:
            if inst.state != "provisioning" or (self._closing and spec is not None):
                if inst.state == "provisioning":
                    inst.state, inst.terminated_at, inst.reason = "terminated", self.now(), "down"
                self._exited.add(inst.id)
                return  # terminated while provisioning
            if spec is not None and inst.vm is not None:
                server = self._vm_servers.get(inst.vm)
                if server is None:
                    meta = InstanceMetadata(
                        instance_id=str(abs(hash(inst.vm)) % 10**19),
                        name=inst.vm,
                        zone=spec.zone,
                        machine_type=spec.machine_type,
                        project=self.project,
                    )
                    server = self._vm_servers[inst.vm] = MetadataServer(meta).start()
                    if inst.vm in self._preempted_vms:
                        meta.set_preempted()
                inst.metadata_host = server.host
            try:
                proc = self.launch(inst, spec)
            except OSError as exc:
                inst.state, inst.reason = "terminated", f"launch failed: {exc}"
                inst.terminated_at = self.now()
                self._event("launch-failed", inst, error=str(exc))
                self._exited.add(inst.id)
                return
            self._procs[inst.id] = proc
            inst.pid = proc.pid
            inst.state, inst.running_at = "running", self.now()
            self._event("running", inst)
        threading.Thread(target=self._reap, args=(inst, proc), daemon=True).start()

    def _reap(self, inst: Instance, proc: subprocess.Popen) -> None:
        proc.wait()
        with self._lock:
            if inst.state not in ("terminated", "stopping"):  # stopping: `_stop` finishes it
                inst.state, inst.terminated_at = "terminated", self.now()
                inst.reason = inst.reason or "exited"
                self._event("exited", inst, code=proc.returncode)
            self._exited.add(inst.id)
            pods = self._vms.get(inst.vm or "", [])
            gone = all(p in self._exited for p in pods)
            server = self._vm_servers.pop(inst.vm, None) if gone and inst.vm else None
        if server:  # the VM is gone with its last Pod
            server.stop()

    def terminate(self, instance_id: str) -> None:
        """The autoscaler scales a node down: SIGTERM, then kill after a grace period."""
        with self._lock:
            inst = self.instances.get(instance_id)
            if inst is None or inst.state in ("terminated", "stopping"):
                return  # already going (a preemption, or an earlier request)
            inst.reason = inst.reason or "scaled-down"
            self._event("terminate", inst)
        self._stop(inst, STOP_GRACE_SECONDS)

    def update_tags(self, instance_id: str, tags: dict[str, str]) -> dict[str, str]:
        with self._lock:
            inst = self.instances[instance_id]
            inst.tags.update(tags)
            return dict(inst.tags)

    def snapshot(self) -> list[dict]:
        """Every instance (also terminated ones), as JSON-ready dicts."""
        with self._lock:
            return [i.to_json() for i in self.instances.values()]

    def alive(self, kind: str | None = None) -> list[Instance]:
        with self._lock:
            return [
                i
                for i in self.instances.values()
                if i.state != "terminated" and (kind is None or i.kind == kind)
            ]

    # --- Spot behaviour ------------------------------------------------------------------

    def stockout(self, group: str, seconds: float) -> None:
        _bounds.finite("seconds", seconds, low=0, high=MAX_STOCKOUT_SECONDS)
        with self._lock:
            if group not in self.groups:
                raise KeyError(f"unknown group {group!r}")
            self._stockouts[group] = self.clock() + seconds
            self._event("stockout", group=group, seconds=seconds)

    def preempt(
        self,
        group: str,
        *,
        count: int = 1,
        share: float | None = None,
        slot: int | None = None,
        rng: random.Random | None = None,
    ) -> list[str]:
        """Preempt running Spot VMs of `group` (every Pod on one gets the notice): by
        launch-order slot, a share (rounded up), or `count` chosen at random. Returns the Pods
        that got a notice."""
        if share is not None:
            _bounds.share("share", share)
        elif slot is None:
            _bounds.count("count", count)
        with self._lock:
            spec = self.groups.get(group)
            if spec is None:
                raise KeyError(f"unknown group {group!r}")
            if not spec.spot:
                raise ValueError(f"group {group!r} is on-demand: it is never preempted")
            vms = self._running_vms(group)
            if slot is not None:
                chosen = [vms[slot]] if slot < len(vms) else []
            else:
                n = math.ceil(len(vms) * share) if share is not None else count
                chosen = (rng or random.Random()).sample(vms, min(n, len(vms)))
            noticed = []
            for vm in chosen:
                self._preempted_vms.add(vm)
                self._preempted_groups.add(group)
                server = self._vm_servers.get(vm)
                if server:
                    server.meta.set_preempted()
                for pod in self._vms[vm]:
                    inst = self.instances[pod]
                    if inst.state == "provisioning":  # never gets to start
                        inst.state, inst.reason = "terminated", "preempted"
                        inst.noticed_at = inst.terminated_at = self.now()
                        self._event("notice", inst)
                    elif inst.state == "running":
                        inst.noticed_at = self.now()
                        inst.state, inst.reason = "stopping", "preempted"  # no one else stops it
                        self._event("notice", inst)
                        threading.Thread(target=self._preemption, args=(inst,), daemon=True).start()
                    else:
                        continue
                    noticed.append(pod)
            return noticed

    def _running_vms(self, group: str) -> list[str]:
        """The group's VMs with a running Pod and no notice, oldest first."""
        out = []
        for vm, pods in self._vms.items():
            insts = [self.instances[p] for p in pods]
            if (
                insts[0].group == group
                and vm not in self._preempted_vms
                and any(i.state == "running" for i in insts)
            ):
                out.append(vm)
        return out

    def freeze(self, group: str, count: int = 1, rng: random.Random | None = None) -> list[str]:
        """Freeze running VMs of `group` (SIGSTOP every Pod on them: like a VM behind a network
        black hole, no notice, no drain); they are killed when the shutdown window ends."""
        _bounds.count("count", count)
        with self._lock:
            if group not in self.groups:
                raise KeyError(f"unknown group {group!r}")
            vms = self._running_vms(group)
            frozen = []
            for vm in (rng or random.Random()).sample(vms, min(count, len(vms))):
                self._preempted_vms.add(vm)
                for pod in self._vms[vm]:
                    inst = self.instances[pod]
                    if inst.state != "running":
                        continue
                    inst.state, inst.reason = "stopping", "frozen"
                    for pid in _tree(inst.pid or -1):
                        _signal(pid, signal.SIGSTOP)
                    self._event("freeze", inst)
                    threading.Thread(target=self._thaw_and_kill, args=(inst,), daemon=True).start()
                    frozen.append(pod)
            return frozen

    def _thaw_and_kill(self, inst: Instance) -> None:
        time.sleep(self.window_seconds)
        proc = self._procs.get(inst.id)
        if inst.state != "terminated" and proc is not None:
            self._kill(inst, proc, _tree(proc.pid), preempted=False)

    def _preemption(self, inst: Instance) -> None:
        time.sleep(self.notice_seconds)
        started = time.monotonic()
        if self.pre_stop is not None:
            try:
                self.pre_stop(inst)
                self._event("pre-stop", inst)
            except Exception as exc:  # as `|| true` in the hook: SIGTERM follows regardless
                self._event("pre-stop-failed", inst, error=f"{type(exc).__name__}: {exc}"[:300])
        spent = self.notice_seconds + (time.monotonic() - started)
        self._stop(inst, max(0.0, self.window_seconds - spent), preempted=True)

    def _stop(self, inst: Instance, grace: float, *, preempted: bool = False) -> None:
        with self._lock:
            proc = self._procs.get(inst.id)
            if proc is None or proc.poll() is not None:
                if inst.state != "terminated":
                    inst.state, inst.terminated_at = "terminated", self.now()
                return
            inst.state = "stopping"
        tree = _tree(proc.pid)
        _signal(proc.pid, signal.SIGTERM)
        self._event("sigterm", inst)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        self._kill(inst, proc, tree, preempted=preempted)

    def _kill(
        self, inst: Instance, proc: subprocess.Popen, tree: set[int], *, preempted: bool
    ) -> None:
        """The end of the window: kill whatever of the node still runs (recorded even when
        nothing did), reap it, and mark it terminated."""
        leftover = [p for p in tree | _tree(proc.pid) if running(p)]
        for pid in leftover:
            _signal(pid, signal.SIGKILL)
        self._event("kill", inst, processes=len(leftover), preempted=preempted)
        proc.wait()
        with self._lock:
            if inst.state != "terminated":
                inst.state, inst.terminated_at = "terminated", self.now()
                self._event("terminated", inst, reason=inst.reason)

    def shutdown(self, grace: float = 5.0) -> None:
        """Stop every instance (workers first, then the head), and only those; refuse new
        launches meanwhile, so that the autoscaler cannot start replacements."""
        with self._lock:
            self._closing = True
        for _ in range(10):
            workers = self.alive("worker")
            if not workers:
                break
            for inst in workers:
                inst.reason = inst.reason or "down"
            threads = [threading.Thread(target=self._stop, args=(i, grace)) for i in workers]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        for inst in self.alive("head"):
            inst.reason = "down"
            self._stop(inst, grace)


def _tree(pid: int) -> set[int]:
    """`pid` and all its descendants (snapshotted: children re-parented later are kept)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return {pid, *(c.pid for c in proc.children(recursive=True))}
    except psutil.Error:
        return set()


def running(pid: int, started: float | None = None) -> bool:
    """Whether `pid` runs (not a zombie) and, given its start time, is still the same process
    (not another that reused the PID)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        if started is not None and abs(proc.create_time() - started) > 1.0:
            return False
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def ray_command() -> list[str]:
    """The `ray` CLI of the Python running spotray (never a different installation)."""
    import sys

    script = Path(sys.executable).with_name("ray")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; main()"]
