"""The emulated cloud's Spot behaviour on real processes (stand-ins for raylets, no Ray)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from spotray._local._cloud import Cloud, Stockout
from spotray._local._shape import LocalGroup

# A "raylet" that ignores SIGTERM (as if its drain outlived the window), with a child process.
STUBBORN = (
    "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
)
# A "raylet" that drains for 0.3 s on SIGTERM, then exits.
GRACEFUL = (
    "import signal, sys, time; "
    "signal.signal(signal.SIGTERM, lambda *a: (time.sleep(0.3), sys.exit(0))); time.sleep(60)"
)


def group(name: str, spot: bool, pods_per_node: int = 1) -> LocalGroup:
    return LocalGroup(
        name=name,
        spot=spot,
        min_nodes=0,
        max_nodes=3,
        cpus=1,
        memory_bytes=2**30,
        gpus=0,
        labels={},
        priority=0,
        idle_timeout_seconds=None,
        machine_type="e2-standard-2",
        zone="us-central1-a",
        pods_per_node=pods_per_node,
        usd_per_pod_hour_spot=0.01,
        usd_per_pod_hour_on_demand=0.03,
    )


def make_cloud(program: str, **kwargs) -> Cloud:
    def launch(inst, spec):
        return subprocess.Popen([sys.executable, "-c", program], start_new_session=True)

    groups = {
        "spot": group("spot", True),
        "ondemand": group("ondemand", False),
        "packed": group("packed", True, pods_per_node=2),
    }
    return Cloud(groups=groups, launch=launch, **kwargs)


def wait_running(cloud: Cloud, count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while len([i for i in cloud.alive() if i.state == "running"]) < count:
        assert time.monotonic() < deadline, "instances did not start"
        time.sleep(0.05)


def events_of(cloud: Cloud, instance: str) -> list[str]:
    return [e["event"] for e in cloud.events if e.get("instance") == instance]


def test_preemption_notice_then_sigterm_then_kill_at_window_end():
    cloud = make_cloud(STUBBORN, window_seconds=1.5, notice_seconds=0.3)
    try:
        (node,) = cloud.create("spot", 1, {})
        wait_running(cloud, 1)
        time.sleep(0.3)  # let the child start
        tree = {p.pid for p in psutil.Process(cloud.instances[node].pid).children(recursive=True)}
        host = cloud.instances[node].metadata_host
        assert read_preempted(host) == "FALSE"
        start = time.monotonic()
        assert cloud.preempt("spot") == [node]
        assert read_preempted(host) == "TRUE"  # the notice comes first
        while cloud.instances[node].state != "terminated":
            time.sleep(0.05)
        elapsed = time.monotonic() - start
        assert 1.4 < elapsed < 3.0  # killed when the window ended, not before
        assert events_of(cloud, node) == [
            "launch",
            "running",
            "notice",
            "sigterm",
            "kill",
            "terminated",
        ]
        kill = next(e for e in cloud.events if e["event"] == "kill")
        assert kill["processes"] == 2  # the "raylet" and its child
        assert not [
            p for p in tree if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
        ]
    finally:
        cloud.shutdown(grace=0.5)


def test_graceful_node_exits_inside_the_window_and_nothing_is_left_to_kill():
    cloud = make_cloud(GRACEFUL, window_seconds=3, notice_seconds=0.1)
    try:
        (node,) = cloud.create("spot", 1, {})
        wait_running(cloud, 1)
        start = time.monotonic()
        cloud.preempt("spot")
        while cloud.instances[node].state != "terminated":
            time.sleep(0.05)
        assert time.monotonic() - start < 2
        kill = next(e for e in cloud.events if e["event"] == "kill")
        assert kill["processes"] == 0
    finally:
        cloud.shutdown(grace=0.5)


def test_on_demand_is_never_preempted_and_share_preempts_a_fraction():
    cloud = make_cloud(GRACEFUL, window_seconds=1, notice_seconds=0.1)
    try:
        cloud.create("spot", 3, {})
        cloud.create("ondemand", 1, {})
        wait_running(cloud, 4)
        with pytest.raises(ValueError, match="on-demand"):
            cloud.preempt("ondemand")
        victims = cloud.preempt("spot", share=0.5)  # of 3 nodes: rounded up, 2
        assert len(victims) == 2
    finally:
        cloud.shutdown(grace=0.5)


def test_stockout_refuses_launches_until_it_ends_and_provisioning_takes_time():
    cloud = make_cloud(GRACEFUL, provision_seconds=0.5, stockout_mode="refuse")
    try:
        cloud.stockout("spot", 0.8)
        with pytest.raises(Stockout):
            cloud.create("spot", 1, {})
        time.sleep(0.9)
        (node,) = cloud.create("spot", 1, {})
        assert cloud.instances[node].state == "provisioning"
        wait_running(cloud, 1)
        assert [e["event"] for e in cloud.events][:3] == ["stockout", "stockout-refused", "launch"]
    finally:
        cloud.shutdown(grace=0.5)


def test_shutdown_stops_every_instance_it_started():
    cloud = make_cloud(STUBBORN)
    cloud.create("spot", 2, {})
    wait_running(cloud, 2)
    pids = [i.pid for i in cloud.instances.values()]
    cloud.shutdown(grace=0.3)
    assert all(i.state == "terminated" for i in cloud.instances.values())
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]


def read_preempted(host: str) -> str:
    request = urllib.request.Request(f"http://{host}/computeMetadata/v1/instance/preempted")
    request.add_header("Metadata-Flavor", "Google")
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.read().decode()


def test_freeze_stops_the_node_without_notice_then_kills_it():
    cloud = make_cloud(GRACEFUL, window_seconds=0.8)
    try:
        (node,) = cloud.create("spot", 1, {})
        wait_running(cloud, 1)
        pid = cloud.instances[node].pid
        assert cloud.freeze("spot") == [node]
        time.sleep(0.2)
        assert psutil.Process(pid).status() == psutil.STATUS_STOPPED
        assert read_preempted(cloud.instances[node].metadata_host) == "FALSE"  # no notice
        while cloud.instances[node].state != "terminated":
            time.sleep(0.05)
        assert events_of(cloud, node)[-3:] == ["freeze", "kill", "terminated"]
    finally:
        cloud.shutdown(grace=0.5)


def test_pods_share_their_vm_its_metadata_and_its_preemption():
    cloud = make_cloud(GRACEFUL, window_seconds=1, notice_seconds=0.1)
    try:
        a, b, c = cloud.create("packed", 3, {})
        wait_running(cloud, 3)
        pods = cloud.instances
        assert pods[a].vm == pods[b].vm != pods[c].vm  # 2 Pods per node: a new VM for the third
        assert pods[a].metadata_host == pods[b].metadata_host != pods[c].metadata_host
        assert sorted(cloud.preempt("packed", slot=0)) == sorted([a, b])  # the whole VM
        assert read_preempted(pods[a].metadata_host) == "TRUE"
        assert read_preempted(pods[c].metadata_host) == "FALSE"
        (d,) = cloud.create("packed", 1, {})  # joins the VM that still has room and no notice
        assert pods[d].vm == pods[c].vm
    finally:
        cloud.shutdown(grace=0.5)


def test_a_launch_during_a_stockout_stays_pending_until_capacity_returns():
    """As on GKE: the Pod is created and stays Pending (no VM, no raylet) until capacity
    returns, then starts; the autoscaler may give up on it meanwhile (it then never starts)."""
    cloud = make_cloud(GRACEFUL)
    try:
        cloud.stockout("spot", 1.0)
        first, second = cloud.create("spot", 2, {})
        time.sleep(0.5)
        assert [cloud.instances[i].state for i in (first, second)] == ["provisioning"] * 2
        assert cloud.instances[first].pid is None  # no process: no raylet
        cloud.terminate(second)  # the autoscaler gives up on one
        wait_running(cloud, 1, timeout=5)
        assert cloud.instances[first].state == "running"
        assert cloud.instances[first].running_at >= 1.0
        time.sleep(0.5)
        assert cloud.instances[second].state == "terminated"  # never started
        assert cloud.instances[second].pid is None
        events = [e["event"] for e in cloud.events if e.get("instance") == first]
        assert events == ["launch", "stockout-pending", "running"]
    finally:
        cloud.shutdown(grace=0.5)
