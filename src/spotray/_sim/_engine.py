"""One simulated run: the plan's worker groups running a workload on a simulated clock.

GKE Spot is `spotray._spot._model.SpotModel`, the model the local cluster drives: which VM a
Pod lands on, which Pods a preemption takes, stockouts, the notice. This module adds what the
model leaves to its driver, as Ray and KubeRay do it:

- **scaling** (Ray's autoscaler v2): pending tasks not covered by free or starting slots launch
  Pods, of the groups that can run them, ranked by availability (lowered when a Pending Pod is
  given up after the pending timeout, recovering linearly over the Spot-retry time), then by
  priority; up to `max_replicas`; `min_replicas` from the start; an idle Pod goes after its
  idle timeout (never below `min_replicas`);
- **tasks**: each takes one slot (a Pod has `Ray CPUs // task cpus` of them); a preemption
  notice lets running tasks go on until the kill at the end of the Pods' shutdown window
  (Ray's drain), or, for resumable tasks, saves their progress at once (if the save fits in
  the drain); work since the last checkpoint is lost at the kill and the task retried for
  free (Ray does not count a preemption against `max_retries`); an application error costs
  its attempt and one of `max_retries`.

Every number comes from the plan (Pods per node, Ray CPUs, prices, the shutdown window, the
fallback settings); a run is a pure function of (plan, workload, settings, seed).
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field

from .._spot._model import SpotModel
from ._availability import changes
from ._core import Sim
from ._workload import Preemption, Workload, sample_preemption_age

RAY_DEFAULT_PENDING_TIMEOUT = 3600.0  # Ray 2.60's RECONCILE_ALLOCATE_STATUS_TIMEOUT_S
RAY_DEFAULT_RECOVERY = 600.0  # RAY_AUTOSCALER_AVAILABILITY_RECOVERY_S
RAY_DEFAULT_IDLE = 60.0


@dataclass(frozen=True)
class GroupSim:
    """What the simulator needs of a worker group (from the plan)."""

    name: str
    spot: bool
    pods_per_node: int
    machine_type: str
    slots: int  # tasks one Pod runs at once
    min_pods: int
    max_pods: int
    priority: int
    idle_seconds: float
    usd_per_node_hour: float  # at its market
    usd_per_node_hour_on_demand: float


@dataclass(frozen=True)
class Settings:
    pending_timeout: float = RAY_DEFAULT_PENDING_TIMEOUT
    recovery: float = RAY_DEFAULT_RECOVERY
    window: float = 15.0  # the Pods' share of the Spot shutdown window: notice to kill
    drain: float = 10.0  # Ray's drain (a resumable save must fit in it)
    head_usd_per_hour: float = 0.0
    horizon: float = 90 * 86400.0  # a run that has not ended by then stops (reported)
    warm: bool = False  # the groups' minimum Pods already run at time 0 (a cluster already up)


@dataclass
class Result:
    makespan: float
    finished: bool  # every task ended (done or failed) within the horizon
    tasks_done: int
    tasks_failed: int
    work_seconds: float  # task-seconds that counted
    redone_seconds: float  # lost to preemptions (since the last checkpoint)
    failed_seconds: float  # lost to application errors
    preemptions: int  # VMs that got a notice
    vm_hours: dict[str, float] = field(default_factory=dict)
    usd: float = 0.0
    usd_on_demand: float = 0.0  # the same VM-hours, every pool on-demand
    events: int = 0
    vms_over_time: list[tuple[float, dict[str, int]]] = field(default_factory=list)

    @property
    def goodput(self) -> float | None:
        total = self.work_seconds + self.redone_seconds + self.failed_seconds
        return self.work_seconds / total if total else None


@dataclass
class _Pod:
    id: str
    group: GroupSim
    vm: str
    state: str = "provisioning"  # provisioning | running | stopping | gone
    free: int = 0
    attempts: set = field(default_factory=set)
    idle_since: float | None = None


class Engine:
    def __init__(
        self,
        groups: list[GroupSim],
        workload: Workload,
        settings: Settings,
        *,
        seed: int = 0,
        track: bool = False,
        sim: Sim | None = None,
    ) -> None:
        self.groups = {g.name: g for g in groups}
        self.workload = workload
        self.tasks = workload.tasks
        self.settings = settings
        self.rng = random.Random(seed)
        self.sim = sim if sim is not None else Sim()  # any core with Sim's interface
        self.model = SpotModel(groups=dict(self.groups), clock=self.sim.clock, wall=self.sim.clock)
        self.pods: dict[str, _Pod] = {}
        self.alive = {g: 0 for g in self.groups}  # Pods not gone (provisioning included)
        self.vm_seen: set[str] = set()  # every VM the run made (for its cost)
        self.vm_started: set[str] = set()  # ... whose first Pod ran (its age starts then)
        self.vms_over_time: list[tuple[float, dict[str, int]]] = []
        self.unavailable_at: dict[str, float] = {}
        self.free_pods: list[str] = []
        self.free_slots = 0  # free slots of running Pods
        self.starting_slots = 0  # slots of Pods still provisioning
        self.pending: deque[int] = deque()
        self.track = track
        self._reconcile_queued = False
        durations = workload.draw_durations(self.rng)
        self.duration = durations
        self.remaining = list(durations)
        self.app_failures = [0] * len(durations)
        self.attempts: dict[int, tuple[int, str, float, bool]] = {}  # id -> task, pod, start, fails
        self._next_attempt = 0
        self.done = self.failed = 0
        self.redone = self.app_lost = 0.0
        self.preemptions = 0
        # availability traces: the cap on each traced group's running VMs, and the Pods whose
        # new VM waits for the cap to rise (GKE: a Pending Pod; its VM is created then)
        self.caps: dict[str, float] = {}
        self.waiting: dict[str, list[str]] = {}
        self.launch_only: set[str] = set()  # traced groups whose falls only stop new VMs

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> Result:
        sim, wl = self.sim, self.workload.spec
        for rows in self.workload.traces.values():
            for row in rows:
                sim.at(row.at, "trace", row)
        for reclaim in wl.reclaims:
            sim.at(reclaim.at, "reclaim", reclaim)
        for stockout in wl.stockouts:
            sim.at(stockout.at, "stockout", stockout)
        for group, trace in self.workload.availability.items():
            g = self.groups.get(group)
            a = wl.preemption[group].availability
            if g is None or not g.spot or a is None:
                continue  # an on-demand group (the all-on-demand strategy) has no Spot market
            length = len(trace.values) * trace.gap_seconds
            into = self.rng.random() * length if a.start_hours == "random" else a.start_hours * 3600
            upcoming = changes(self.workload.caps(group), trace.gap_seconds, into)
            at, cap = next(upcoming)
            sim.at(at, "availability", (group, upcoming, cap))
            if a.drop == "stockout":
                self.launch_only.add(group)
        self.pending.extend(range(len(self.duration)))
        sim.at(0.0, "start")  # after what the workload puts at time 0 (a stockout from the start)
        total = len(self.duration)
        end = self.settings.horizon
        handlers = {
            "ready": self._ready,
            "finish": self._finish,
            "preempt": self._preempt_vm,
            "kill": self._kill,
            "saved": self._saved,
            "timeout": self._timeout,
            "idle": self._idle,
            "trace": self._trace,
            "reclaim": self._reclaim,
            "stockout": self._stockout,
            "availability": self._availability_change,
            "reconcile": self._reconcile_event,
            "start": self._start,
        }
        while sim and self.done + self.failed < total:
            kind, data = sim.pop()
            if sim.now > end:
                break
            handlers[kind](data)
            if self.track and kind in ("ready", "kill", "idle", "timeout"):
                self._snapshot()
        makespan = sim.now if self.done + self.failed == total else min(sim.now, end)
        return self._result(makespan, self.done + self.failed == total)

    # --- scaling ---------------------------------------------------------------------------

    def _start(self, _) -> None:
        for g in self.groups.values():
            if g.min_pods:
                self._launch(g, g.min_pods, ready_in=0.0 if self.settings.warm else None)
        self._reconcile()

    def _availability(self, group: str) -> float:
        at = self.unavailable_at.get(group)
        if at is None:
            return 1.0
        since = self.sim.now - at
        recovery = self.settings.recovery
        return 0.0 if since < min(10.0, 0.1 * recovery) else min(1.0, since / recovery)

    def _queue_reconcile(self) -> None:
        if not self._reconcile_queued:
            self._reconcile_queued = True
            self.sim.after(0.0, "reconcile")

    def _reconcile_event(self, _) -> None:
        self._reconcile_queued = False
        self._reconcile()

    def _reconcile(self) -> None:
        """Launch Pods for the tasks that no free or starting slot covers (Ray's autoscaler)."""
        demand = len(self.pending) - self.free_slots - self.starting_slots
        if demand <= 0:
            return
        order = sorted(
            (g for g in self.groups.values() if g.slots > 0 and self.alive[g.name] < g.max_pods),
            key=lambda g: (-self._availability(g.name), -g.priority, g.name),
        )
        for g in order:
            n = min(math.ceil(demand / g.slots), g.max_pods - self.alive[g.name])
            if n > 0:
                self._launch(g, n)
                demand -= n * g.slots
            if demand <= 0:
                return

    def _launch(self, g: GroupSim, n: int, ready_in: float | None = None) -> None:
        wait = self.model.capacity_in(g.name)
        if ready_in is None:
            ready_in = wait + self.workload.spec.provision_seconds
        for inst in self.model.launch(g.name, n, {}):
            pod = _Pod(inst.id, g, inst.vm or "")
            self.pods[inst.id] = pod
            self.alive[g.name] += 1
            self.starting_slots += g.slots
            self.vm_seen.add(pod.vm)
            self.sim.after(ready_in, "ready", inst.id)
            self.sim.after(self.settings.pending_timeout, "timeout", inst.id)

    def _schedule_preemption(self, g: GroupSim, vm: str) -> None:
        preemption: Preemption | None = self.workload.spec.preemption.get(g.name)
        if not g.spot or preemption is None:
            return
        if preemption.rate_per_hour is None and preemption.hazard is None:
            return  # a trace: its rows, or its availability, preempt
        age = sample_preemption_age(preemption, self.rng)
        if math.isfinite(age):
            self.sim.after(age, "preempt", vm)

    def _ready(self, pod_id: str) -> None:
        pod = self.pods[pod_id]
        inst = self.model.instances[pod_id]
        if pod.state != "provisioning":
            return
        if not self.model.may_start(inst):
            self._set_state(pod, "gone")
            return
        if pod.vm not in self.vm_started and self._at_cap(pod.group.name):
            self.waiting.setdefault(pod.group.name, []).append(pod_id)
            return  # its VM is not created until the trace has room for it
        self.model.started(inst, 0)
        if pod.vm not in self.vm_started:  # the VM is up: its preemption clock starts
            self.vm_started.add(pod.vm)
            self._schedule_preemption(pod.group, pod.vm)
        self._set_state(pod, "running")
        if pod.free:
            self.free_pods.append(pod_id)
        self._dispatch()
        if not pod.attempts:
            self._went_idle(pod)

    def _timeout(self, pod_id: str) -> None:
        pod = self.pods[pod_id]
        if pod.state != "provisioning":
            return
        # Ray gives up on the Pending Pod (ALLOCATION_TIMEOUT): its group ranks lower now
        self.unavailable_at[pod.group.name] = self.sim.now
        self.model.scale_down(pod_id)
        self._gone(pod)
        self._reconcile()

    def _went_idle(self, pod: _Pod) -> None:
        pod.idle_since = self.sim.now
        self.sim.after(pod.group.idle_seconds, "idle", (pod.id, pod.idle_since))

    def _idle(self, data) -> None:
        pod_id, since = data
        pod = self.pods[pod_id]
        if pod.state != "running" or pod.attempts or pod.idle_since != since:
            return
        if self.alive[pod.group.name] <= pod.group.min_pods:
            return
        self.model.scale_down(pod_id)
        self._gone(pod)

    def _gone(self, pod: _Pod) -> None:
        inst = self.model.instances[pod.id]
        if inst.state == "provisioning":
            inst.reason = inst.reason or "scaled-down"
        self.model.stopped(inst)
        vm_gone = self.model.process_exited(inst, 0)
        self._set_state(pod, "gone")
        if vm_gone and pod.vm in self.vm_started and pod.group.name in self.waiting:
            self._release(pod.group.name)  # a traced group's VM left: room under its cap

    def _set_state(self, pod: _Pod, state: str) -> None:
        """Move a Pod to `state`, keeping the slot counts and the group's live count."""
        if pod.state == "provisioning":
            self.starting_slots -= pod.group.slots
        elif pod.state == "running":
            self.free_slots -= pod.free
        if state == "running":
            pod.free = pod.group.slots
            self.free_slots += pod.free
        else:
            pod.free = 0
        if state == "gone" and pod.state != "gone":
            self.alive[pod.group.name] -= 1
        pod.state = state

    # --- tasks -----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        pending, free_pods, pods = self.pending, self.free_pods, self.pods
        rate = self.tasks.failure_rate
        while pending and free_pods:
            pod = pods[free_pods[-1]]
            if pod.state != "running" or pod.free <= 0:
                free_pods.pop()
                continue
            task = pending.popleft()
            work = self.remaining[task]
            fails = rate > 0 and self.rng.random() < rate
            run_for = self.rng.uniform(0, work) if fails else work
            aid = self._next_attempt
            self._next_attempt += 1
            self.attempts[aid] = (task, pod.id, self.sim.now, fails)
            pod.attempts.add(aid)
            pod.idle_since = None
            pod.free -= 1
            self.free_slots -= 1
            if pod.free == 0:
                free_pods.pop()
            self.sim.after(run_for, "finish", aid)

    def _end_attempt(self, aid: int) -> tuple[int, _Pod, float]:
        task, pod_id, start, _ = self.attempts.pop(aid)
        pod = self.pods[pod_id]
        pod.attempts.discard(aid)
        return task, pod, self.sim.now - start

    def _finish(self, aid: int) -> None:
        if aid not in self.attempts:
            return  # killed or saved before it ended
        fails = self.attempts[aid][3]
        task, pod, elapsed = self._end_attempt(aid)
        if fails:
            self.app_lost += elapsed
            self.app_failures[task] += 1
            if self.app_failures[task] > self.tasks.max_retries:
                self.failed += 1
            else:
                self.pending.append(task)
        else:
            self.remaining[task] = 0.0
            self.done += 1
        if pod.state == "running":
            pod.free += 1
            self.free_slots += 1
            if pod.free == 1:
                self.free_pods.append(pod.id)
            self._dispatch()
            if not pod.attempts:
                self._went_idle(pod)
        if self.pending:
            self._queue_reconcile()

    def _interrupt(self, aid: int, *, saved_all: bool) -> None:
        """An attempt cut off (its Pod killed, or saved at the notice): keep what was saved,
        count the rest as redone, and queue the task again (a free retry)."""
        task, _pod, elapsed = self._end_attempt(aid)
        if saved_all:
            kept = elapsed
        else:
            tau = self.tasks.checkpoint_seconds
            kept = math.floor(elapsed / tau) * tau if tau else 0.0
        kept = min(kept, self.remaining[task])
        self.remaining[task] -= kept
        self.redone += elapsed - kept
        self.pending.append(task)

    # --- Spot ------------------------------------------------------------------------------

    def _preempt_vm(self, vm: str) -> None:
        if vm in self.model.preempted_vms:
            return
        pods = [self.pods[p] for p in self.model.vms.get(vm, []) if self.pods[p].state != "gone"]
        if not pods:
            return
        noticed, _ = self.model.preempt_vm(vm)
        if not noticed:
            return
        self.preemptions += 1
        group = pods[0].group.name
        if group in self.waiting:  # the noticed VM no longer counts against a trace's cap
            self._release(group)
        drain, save = self.settings.drain, self.tasks.save_seconds
        for pod in pods:
            if pod.state == "provisioning":  # never starts; the model terminated it
                self.model.process_exited(self.model.instances[pod.id], None)
                self._set_state(pod, "gone")
                continue
            self._set_state(pod, "stopping")
            if self.tasks.resumable and save <= drain:
                for aid in list(pod.attempts):
                    self.sim.after(save, "saved", aid)
        self.sim.after(self.settings.window, "kill", vm)
        self._queue_reconcile()

    def _saved(self, aid: int) -> None:
        """A resumable task saved its progress up to the notice (the save is no work)."""
        if aid not in self.attempts:
            return
        task, pod_id, start, _ = self.attempts[aid]
        noticed = self.model.instances[pod_id].noticed_at
        self._end_attempt(aid)
        kept = min((noticed if noticed is not None else self.sim.now) - start, self.remaining[task])
        self.remaining[task] -= kept
        self.pending.append(task)
        self._dispatch()
        self._queue_reconcile()

    def _kill(self, vm: str) -> None:
        for pod_id in self.model.vms.get(vm, []):
            pod = self.pods[pod_id]
            if pod.state != "stopping":
                continue
            for aid in list(pod.attempts):
                self._interrupt(aid, saved_all=False)
            self._gone(pod)
        self._dispatch()
        self._reconcile()

    def _trace(self, row) -> None:
        chosen = self.model.choose_vms(
            row.group, count=row.count or 1, share=row.share, slot=row.slot, rng=self.rng
        )
        for vm in chosen:
            self._preempt_vm(vm)

    def _reclaim(self, reclaim) -> None:
        for vm in self.model.choose_vms(reclaim.group, share=reclaim.share, rng=self.rng):
            self._preempt_vm(vm)

    def _stockout(self, stockout) -> None:
        self.model.stockout(stockout.group, stockout.seconds)

    def _at_cap(self, group: str) -> bool:
        cap = self.caps.get(group)
        return cap is not None and len(self.model.running_vms(group)) >= cap

    def _availability_change(self, data) -> None:
        """A traced group's cap changes: the VMs above it are preempted (chosen at random;
        unless the trace's drops only stop new VMs) and, if it rose, the Pods waiting for a VM
        try again."""
        group, upcoming, cap = data
        before = self.caps.get(group, math.inf)
        self.caps[group] = cap
        running = self.model.running_vms(group)
        if len(running) > cap and group not in self.launch_only:
            for vm in self.model.choose_vms(group, count=len(running) - int(cap), rng=self.rng):
                self._preempt_vm(vm)
        if cap > before:
            self._release(group)
        following = next(upcoming, None)
        if following is not None:
            self.sim.at(following[0], "availability", (group, upcoming, following[1]))

    def _release(self, group: str) -> None:
        """The Pods waiting for room under the cap try again, their VM created now (ready
        after provisioning; one that finds no room then waits again)."""
        provision = self.workload.spec.provision_seconds
        for pod_id in self.waiting.pop(group, []):
            if self.pods[pod_id].state == "provisioning":
                self.sim.after(provision, "ready", pod_id)

    # --- results ---------------------------------------------------------------------------

    def _snapshot(self) -> None:
        counts = {g: 0 for g in self.groups}
        for vm in self.vm_seen:
            pods = self.model.vms[vm]
            if any(self.pods[p].state in ("running", "stopping") for p in pods):
                counts[self.pods[pods[0]].group.name] += 1
        self.vms_over_time.append((self.sim.now, counts))

    def _result(self, makespan: float, finished: bool) -> Result:
        hours: dict[str, float] = {g: 0.0 for g in self.groups}
        usd = od = 0.0
        provision = self.workload.spec.provision_seconds
        for vm in self.vm_seen:
            insts = [self.model.instances[p] for p in self.model.vms[vm]]
            # billed from the VM's creation (its first Pod's start less provisioning) to its
            # end; a Pod that never ran (Pending through a stockout) had no VM to bill
            starts = [i.running_at - provision for i in insts if i.running_at is not None]
            if not starts:
                continue
            ends = [i.terminated_at if i.terminated_at is not None else makespan for i in insts]
            seconds = max(0.0, min(max(ends), makespan) - max(0.0, min(starts)))
            hours[insts[0].group] += seconds / 3600
        for name, h in hours.items():
            g = self.groups[name]
            usd += h * g.usd_per_node_hour
            od += h * g.usd_per_node_hour_on_demand
        head = makespan / 3600 * self.settings.head_usd_per_hour
        work = sum(self.duration[t] for t in range(len(self.duration)) if self.remaining[t] == 0.0)
        return Result(
            makespan=makespan,
            finished=finished,
            tasks_done=self.done,
            tasks_failed=self.failed,
            work_seconds=work,
            redone_seconds=self.redone,
            failed_seconds=self.app_lost,
            preemptions=self.preemptions,
            vm_hours={k: round(v, 6) for k, v in hours.items()},
            usd=usd + head,
            usd_on_demand=od + head,
            events=self.sim.events,
            vms_over_time=self.vms_over_time,
        )
