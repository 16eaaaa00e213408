"""The emulated cloud behind the local cluster: the process driver of the Spot model.

`spotray._spot._model.SpotModel` decides what GKE Spot does (which VM a Pod lands on, which VMs
a preemption takes, stockouts, replacements, the notice timeline); `Cloud` carries it out with
real processes: one raylet per Pod, a metadata server per VM, SIGTERM and SIGKILL on the
timeline, threads for provisioning delays and shutdown windows.

Ray's autoscaler asks it for nodes through spotray's node provider (an HTTP client, like a
cloud provider's API client); `spotray preempt`, the preemption schedule and `spotray down`
act on it too. A preemption follows GKE's order: the VM's metadata server reports
`preempted: TRUE` (the notice), the Pods get SIGTERM shortly after (Ray drains on it), and
whatever is still running when the shutdown window ends is killed.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import _bounds
from .._spot._model import (
    NOTICE_TO_SIGTERM_SECONDS,
    Instance,
    SpotModel,
    Stockout,
    preemption_timeline,
)
from ._metadata import InstanceMetadata, MetadataServer
from ._shape import LocalGroup

__all__ = ["Cloud", "Instance", "Stockout", "running"]

STOCKOUT_MODES = ("pending", "refuse")
STOP_GRACE_SECONDS = 10.0
MAX_STOCKOUT_SECONDS = 7 * 24 * 3600.0  # scale-down and `down`: SIGTERM, then kill after this long


@dataclass
class Cloud:
    """All Pods of one local cluster, run as processes; thread-safe (one lock around the
    model); owns their processes."""

    groups: dict[str, LocalGroup]
    launch: Callable[[Instance, LocalGroup | None], subprocess.Popen]
    project: str = "spotray-local"
    window_seconds: float = 15.0  # the Pods' share of the Spot shutdown window (time-scaled)
    notice_seconds: float = NOTICE_TO_SIGTERM_SECONDS
    provision_seconds: float = 0.0
    # what runs between the notice and SIGTERM, as a Pod's preStop hook does (the drain)
    pre_stop: Callable[[Instance], None] | None = None
    clock: Callable[[], float] = time.monotonic
    stockout_mode: str = "pending"  # or "refuse" (see SpotModel.stockout_mode)
    model: SpotModel = field(init=False)
    _procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    _vm_servers: dict[str, MetadataServer] = field(default_factory=dict)  # one per VM
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        if self.stockout_mode not in STOCKOUT_MODES:
            raise ValueError(f"stockout_mode must be one of {', '.join(STOCKOUT_MODES)}")
        self.model = SpotModel(
            groups=self.groups, clock=self.clock, stockout_mode=self.stockout_mode
        )

    @property
    def instances(self) -> dict[str, Instance]:
        return self.model.instances

    @property
    def events(self) -> list[dict]:
        return self.model.events

    def now(self) -> float:
        return self.model.now()

    # --- what the autoscaler's node provider calls -------------------------------------

    def create(self, group: str, count: int, tags: dict[str, str]) -> list[str]:
        """Start `count` Pods of `group` (after the provisioning delay)."""
        with self._lock:
            pods = self.model.launch(group, count, tags)
            spec = self.groups[group]
            for inst in pods:
                threading.Thread(target=self._boot, args=(inst, spec), daemon=True).start()
            return [inst.id for inst in pods]

    def add_head(self, tags: dict[str, str]) -> Instance:
        with self._lock:
            inst = self.model.add_head(tags)
        self._boot(inst, None)
        return inst

    def _boot(self, inst: Instance, spec: LocalGroup | None) -> None:
        while spec is not None:  # accepted during a stockout: no VM until capacity returns
            with self._lock:
                wait = self.model.capacity_in(inst.group) if inst.state == "provisioning" else 0
            if wait <= 0:
                break
            time.sleep(min(wait, 0.25))
        if spec is not None and self.provision_seconds:
            time.sleep(self.provision_seconds)
        with self._lock:
            if not self.model.may_start(inst):
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
                    if inst.vm in self.model.preempted_vms:
                        meta.set_preempted()
                inst.metadata_host = server.host
            try:
                proc = self.launch(inst, spec)
            except OSError as exc:
                self.model.start_failed(inst, str(exc))
                return
            self._procs[inst.id] = proc
            self.model.started(inst, proc.pid)
        threading.Thread(target=self._reap, args=(inst, proc), daemon=True).start()

    def _reap(self, inst: Instance, proc: subprocess.Popen) -> None:
        proc.wait()
        with self._lock:
            vm_gone = self.model.process_exited(inst, proc.returncode)
            server = self._vm_servers.pop(inst.vm, None) if vm_gone and inst.vm else None
        if server:  # the VM is gone with its last Pod
            server.stop()

    def terminate(self, instance_id: str) -> None:
        """The autoscaler scales a node down: SIGTERM, then kill after a grace period."""
        with self._lock:
            inst = self.model.scale_down(instance_id)
        if inst is not None:
            self._stop(inst, STOP_GRACE_SECONDS)

    def update_tags(self, instance_id: str, tags: dict[str, str]) -> dict[str, str]:
        with self._lock:
            inst = self.instances[instance_id]
            inst.tags.update(tags)
            return dict(inst.tags)

    def snapshot(self) -> list[dict]:
        """Every Pod (also terminated ones), as JSON-ready dicts."""
        with self._lock:
            return [i.to_json() for i in self.instances.values()]

    def alive(self, kind: str | None = None) -> list[Instance]:
        with self._lock:
            return self.model.alive(kind)

    # --- Spot behaviour ------------------------------------------------------------------

    def stockout(self, group: str, seconds: float) -> None:
        _bounds.finite("seconds", seconds, low=0, high=MAX_STOCKOUT_SECONDS)
        with self._lock:
            self.model.stockout(group, seconds)

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
            vms, noticed, to_stop = self.model.preempt(
                group, count=count, share=share, slot=slot, rng=rng
            )
            for vm in vms:
                server = self._vm_servers.get(vm)
                if server:
                    server.meta.set_preempted()
            for inst in to_stop:
                threading.Thread(target=self._preemption, args=(inst,), daemon=True).start()
            return noticed

    def freeze(self, group: str, count: int = 1, rng: random.Random | None = None) -> list[str]:
        """Freeze running VMs of `group` (SIGSTOP every Pod on them: like a VM behind a network
        black hole, no notice, no drain); they are killed when the shutdown window ends."""
        _bounds.count("count", count)
        with self._lock:
            frozen = self.model.freeze(group, count, rng)
            for inst in frozen:
                for pid in _tree(inst.pid or -1):
                    _signal(pid, signal.SIGSTOP)
                threading.Thread(target=self._thaw_and_kill, args=(inst,), daemon=True).start()
            return [inst.id for inst in frozen]

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
                with self._lock:
                    self.model.event("pre-stop", inst)
            except Exception as exc:  # as `|| true` in the hook: SIGTERM follows regardless
                with self._lock:
                    self.model.event(
                        "pre-stop-failed", inst, error=f"{type(exc).__name__}: {exc}"[:300]
                    )
        _, grace = preemption_timeline(
            self.notice_seconds, self.window_seconds, time.monotonic() - started
        )
        self._stop(inst, grace, preempted=True)

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
        with self._lock:
            self.model.event("sigterm", inst)
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
        with self._lock:
            self.model.event("kill", inst, processes=len(leftover), preempted=preempted)
        proc.wait()
        # SIGKILL is delivered asynchronously: a busy machine can take a moment to end a
        # process. The VM is gone only when its processes are (seen once on 2 loaded cores).
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        while any(running(p) for p in leftover) and time.monotonic() < deadline:
            time.sleep(0.02)
        with self._lock:
            self.model.stopped(inst)

    def shutdown(self, grace: float = 5.0) -> None:
        """Stop every Pod (workers first, then the head), and only those; refuse new
        launches meanwhile, so that the autoscaler cannot start replacements."""
        with self._lock:
            self.model.closing = True
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


KILL_WAIT_SECONDS = 5.0  # how long `_kill` waits for SIGKILLed processes to be gone


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
