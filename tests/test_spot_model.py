"""The Spot model alone (issue 11, step 0): pure and clock-driven, no process, thread or sleep.
A fake clock drives it here as a simulator would; the local cluster drives it with processes
(tests/test_cloud.py, tests/test_local_cluster.py)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from spotray._spot._model import SpotModel, Stockout, preemption_timeline


@dataclass
class Shape:
    spot: bool
    pods_per_node: int = 1
    machine_type: str = "e2-standard-2"


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def model(clock=None, stockout_mode="pending") -> SpotModel:
    groups = {"spot": Shape(True), "packed": Shape(True, 2), "ondemand": Shape(False)}
    return SpotModel(
        groups=groups, clock=clock or FakeClock(), wall=lambda: 0.0, stockout_mode=stockout_mode
    )


def run_all(m: SpotModel, pods) -> None:
    for i, inst in enumerate(pods):
        assert m.may_start(inst)
        m.started(inst, pid=1000 + i)


def test_pods_share_a_vm_up_to_pods_per_node_and_never_a_preempted_one():
    m = model()
    a, b, c = m.launch("packed", 3, {})
    assert a.vm == b.vm != c.vm  # two Pods per VM, then a new VM
    run_all(m, [a, b, c])
    vms, noticed, to_stop = m.preempt("packed", slot=0)
    assert vms == [a.vm] and noticed == [a.id, b.id] and to_stop == [a, b]  # the VM's Pods
    (d,) = m.launch("packed", 1, {})
    assert d.vm == c.vm and d.replacement  # room on c's VM; launched after a preemption


def test_preemption_choice_by_slot_share_and_count():
    m = model()
    pods = m.launch("spot", 5, {})
    run_all(m, pods)
    assert m.choose_vms("spot", slot=4) == [pods[4].vm]
    assert m.choose_vms("spot", slot=5) == []  # no such running VM: nothing
    assert len(m.choose_vms("spot", share=0.5)) == 3  # rounded up
    rng = random.Random(7)
    assert m.choose_vms("spot", count=2, rng=rng) == m.choose_vms(
        "spot", count=2, rng=random.Random(7)
    )  # seeded: reproducible
    with pytest.raises(ValueError, match="on-demand"):
        m.preempt("ondemand")


def test_a_provisioning_pod_on_a_preempted_vm_never_starts():
    m = model()
    a, b = m.launch("packed", 2, {})
    m.started(a, pid=1)  # b is still provisioning on the same VM
    _, noticed, to_stop = m.preempt("packed", slot=0)
    assert noticed == [a.id, b.id] and to_stop == [a]
    assert (b.state, b.reason) == ("terminated", "preempted")
    assert not m.may_start(b)


def test_a_refusing_stockout_refuses_launches_until_the_clock_passes_it():
    clock = FakeClock()
    m = model(clock, stockout_mode="refuse")
    m.stockout("spot", 30)
    with pytest.raises(Stockout, match="stockout"):
        m.launch("spot", 1, {})
    assert m.launch("ondemand", 1, {})  # other groups are not affected
    clock.t += 30
    assert m.launch("spot", 1, {})
    assert [e["event"] for e in m.events if e.get("group") == "spot"] == [
        "stockout",
        "stockout-refused",
        "launch",
    ]
    assert m.events[0]["t"] == 0.0 and m.events[-1]["t"] == 30.0  # the run's time axis


def test_the_vm_is_gone_with_its_last_pod_and_closing_refuses_launches():
    m = model()
    a, b = m.launch("packed", 2, {})
    run_all(m, [a, b])
    assert not m.process_exited(a, 0)
    assert m.process_exited(b, 0)  # the VM's last Pod
    m.closing = True
    with pytest.raises(Stockout, match="shutting down"):
        m.launch("spot", 1, {})


def test_the_preemption_timeline():
    # the notice, SIGTERM after notice_seconds (+ the preStop hook), the kill at the window end
    assert preemption_timeline(1.0, 15.0) == (1.0, 14.0)
    assert preemption_timeline(1.0, 15.0, 3.0) == (4.0, 11.0)
    assert preemption_timeline(1.0, 3.0, 5.0) == (6.0, 0.0)  # a hook past the window: killed


def test_a_pending_stockout_accepts_launches_that_wait_for_capacity():
    """GKE's way: the Pod is created and stays Pending until capacity returns."""
    clock = FakeClock()
    m = model(clock)
    m.stockout("spot", 30)
    (pod,) = m.launch("spot", 1, {})
    assert pod.state == "provisioning" and m.capacity_in("spot") == 30
    assert m.capacity_in("ondemand") == 0
    clock.t += 10
    assert m.capacity_in("spot") == 20
    clock.t += 20
    assert m.capacity_in("spot") == 0 and m.may_start(pod)
    assert [e["event"] for e in m.events] == ["stockout", "launch", "stockout-pending"]
