"""The local spot cluster on real Ray: up/down by PID, Ray's autoscaler v2 through spotray's
node provider, preemptions through notice → SIGTERM → kill, stockouts, and a job that must
finish exactly while its nodes are taken away. One cluster for the module (plus a short-lived
one for the seed example); every process is stopped by PID, never with `ray stop`."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time

import psutil
import pytest

import spotray
from spotray import local

from .conftest import EXAMPLES, ROOT

pytestmark = pytest.mark.ray
SPEC = ROOT / "tests" / "data" / "local-spec.yaml"
TIME_SCALE = 5  # the 15 s Spot window becomes 3 s


@pytest.fixture(scope="module", autouse=True)
def state_dir(tmp_path_factory):
    old = os.environ.get("SPOTRAY_STATE_DIR")
    os.environ["SPOTRAY_STATE_DIR"] = str(tmp_path_factory.mktemp("spotray-state"))
    os.environ["RAY_AUTH_MODE"] = "disabled"
    yield
    if old is None:
        os.environ.pop("SPOTRAY_STATE_DIR", None)
    else:
        os.environ["SPOTRAY_STATE_DIR"] = old


def processes_of(cluster: local.LocalCluster) -> set[int]:
    pids = {cluster.controller_pid}
    for inst in cluster.instances():
        if inst["pid"] and inst["state"] != "terminated":
            pids.add(inst["pid"])
    for pid in list(pids):
        with contextlib.suppress(psutil.Error):
            pids |= {c.pid for c in psutil.Process(pid).children(recursive=True)}
    return pids


def alive(pids: set[int]) -> set[int]:
    out = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.add(pid)
        except psutil.Error:
            pass
    return out


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def assert_down(cluster: local.LocalCluster, pids: set[int]) -> None:
    deadline = time.monotonic() + 15
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(pids), f"left behind: {alive(pids)}"
    assert not port_in_use(cluster.gcs_port) and not port_in_use(cluster.dashboard_port)


def test_up_with_the_seed_example_then_down_leaves_nothing():
    plan = spotray.plan(spotray.load_spec(EXAMPLES / "seed.yaml"))
    cluster = local.up(plan, provision_seconds=0)
    try:
        instances = cluster.instances()
        # both seed groups have minReplicas 0: the head only, until work asks for more
        assert [(i["group"], i["state"]) for i in instances] == [("head", "running")]
        from spotray._local._cluster import ray_nodes

        nodes = [n for n in ray_nodes(cluster) if n.state == "ALIVE"]
        assert len(nodes) == 1 and nodes[0].resources_total.get("CPU", 0) == 0
        pids = processes_of(cluster)
        assert len(pids) > 3  # controller, `ray start`, GCS, raylet, dashboard, ...
    finally:
        cluster.down()
    assert_down(cluster, pids)
    assert local.find(plan.name) is None


def test_down_stops_what_a_dead_controller_left_behind():
    from spotray.cli import main

    plan = spotray.plan(spotray.load_spec(EXAMPLES / "seed.yaml"))
    cluster = local.up(plan, provision_seconds=0)
    pids = processes_of(cluster) - {cluster.controller_pid}
    time.sleep(1.5)  # the controller records its processes every second
    os.kill(cluster.controller_pid, 9)  # as the OOM killer would
    wait_until(lambda: not alive({cluster.controller_pid}), 10, "the controller to die")
    assert local.find(plan.name) is None and alive(pids)  # the head is orphaned
    assert main(["down", "--name", plan.name]) == 0
    assert_down(cluster, pids)


@pytest.fixture(scope="module")
def cluster():
    plan = spotray.plan(spotray.load_spec(SPEC))
    c = local.up(
        plan,
        scale=1.0,
        time_scale=TIME_SCALE,
        provision_seconds=1.0,
        drain_seconds=30,  # longer than the 3 s window: preempted nodes are killed mid-drain
        idle_timeout_seconds=8,
    )
    yield c
    if local.find(plan.name):
        c.down()


def running(cluster, group: str) -> list[dict]:
    return [i for i in cluster.instances() if i["group"] == group and i["state"] == "running"]


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_min_nodes_come_up_with_the_cluster(cluster):
    assert len(running(cluster, "medium-group")) == 1
    assert running(cluster, "small-group") == []


def test_demand_scales_a_group_up_from_zero_within_its_max(cluster):
    import ray

    ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
    try:

        @ray.remote(num_cpus=1, label_selector={"spotray.io/group": "small-group"})
        def work(i):
            time.sleep(4)
            return i

        refs = [work.remote(i) for i in range(6)]
        peak = 0
        while True:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0.5)
            alive_small = [
                i
                for i in cluster.instances()
                if i["group"] == "small-group" and i["state"] != "terminated"
            ]
            peak = max(peak, len(alive_small))
            if len(ready) == len(refs):
                break
        assert sorted(ray.get(refs)) == list(range(6))
        assert 2 <= peak <= 3  # scaled up from 0, never past maxReplicas
        from spotray._local._cluster import ray_nodes

        small = [
            n
            for n in ray_nodes(cluster)
            if n.state == "ALIVE" and n.labels.get("spotray.io/group") == "small-group"
        ]
        assert small
        node = small[0]
        assert {
            k: node.labels[k]
            for k in (
                "cloud.google.com/gke-nodepool",
                "cloud.google.com/gke-spot",
                "node.kubernetes.io/instance-type",
                "topology.kubernetes.io/zone",
                "ray.io/market-type",
            )
        } == {
            "cloud.google.com/gke-nodepool": "small-worker",
            "cloud.google.com/gke-spot": "true",
            "node.kubernetes.io/instance-type": "e2-standard-2",
            "topology.kubernetes.io/zone": "us-central1-a",
            "ray.io/market-type": "spot",
        }
        assert node.resources_total["CPU"] == 1
        assert node.resources_total["memory"] == 4 * 10**9
    finally:
        ray.shutdown()


def test_a_preempted_node_of_a_group_with_min_nodes_is_replaced(cluster):
    (old,) = running(cluster, "medium-group")
    assert cluster.preempt("medium-group") == [old["id"]]
    new = wait_until(
        lambda: [i for i in running(cluster, "medium-group") if i["id"] != old["id"]],
        60,
        "a replacement medium-group node",
    )
    assert new[0]["replacement"]
    events = [e["event"] for e in cluster.events() if e.get("instance") == old["id"]]
    assert events[-4:] == ["notice", "sigterm", "kill", "terminated"]


def test_a_stockout_keeps_a_preempted_node_from_being_replaced_until_it_ends(cluster):
    (old,) = wait_until(lambda: running(cluster, "medium-group"), 60, "a medium-group node")
    cluster.stockout("medium-group", 15)
    cluster.preempt("medium-group")
    start = time.monotonic()
    wait_until(
        lambda: any(e["event"] == "stockout-refused" for e in cluster.events()),
        15,
        "the autoscaler to try and be refused",
    )
    while time.monotonic() - start < 12:
        assert [i for i in running(cluster, "medium-group") if i["id"] != old["id"]] == []
        time.sleep(0.5)
    wait_until(
        lambda: [i for i in running(cluster, "medium-group") if i["id"] != old["id"]],
        60,
        "a replacement after the stockout",
    )
    assert time.monotonic() - start >= 15


def test_a_job_finishes_exactly_while_nodes_are_preempted(cluster):
    from spotray._local._run import job_ids, settled_attempts

    wait_until(lambda: running(cluster, "medium-group"), 60, "a medium-group node")
    before = job_ids(cluster)
    # tasks of 5 s and a 3 s window: a preempted node's running tasks are cut off and retried
    schedule = [
        local.Preemption(9, "small-group", slot=0),
        local.Preemption(13, "medium-group", slot=0),
        local.Preemption(17, "small-group", slot=1),
        local.Preemption(24, "small-group", slot=0),
        local.Preemption(28, "medium-group", slot=0),
    ]
    report = local.run_job(
        cluster,
        [sys.executable, str(EXAMPLES / "batch_job.py"), "--tasks", "40", "--task-seconds", "5"],
        preemptions=schedule,
    )
    log = sorted((cluster.state / "logs").glob("job-*.log"))[-1].read_text()
    assert report.exit_code == 0, log
    assert "OK: sum of squares" in log
    assert report.preempted >= 3, (report.groups, cluster.events())
    events = cluster.events()
    noticed = {e["instance"] for e in events if e["event"] == "notice"}
    for inst in noticed:
        kinds = [e["event"] for e in events if e.get("instance") == inst]
        i = kinds.index("notice")
        assert kinds[i : i + 3] == ["notice", "sigterm", "kill"], kinds
    # the report's counts are Ray's: compare with the state API, asked independently
    attempts = settled_attempts(cluster, job_ids(cluster) - before)
    failed = [a for a in attempts if a["state"] == "FAILED"]
    assert report.tasks == 40
    assert report.task_attempts == len(attempts)
    assert report.failed_attempts == len(failed) >= 1, (report, cluster.events())
    assert report.retried_attempts == sum(1 for a in attempts if a["attempt_number"] > 0) >= 1
    assert report.goodput is not None and 0 < report.goodput < 1
    assert report.to_json()["usd_as_run"] < report.to_json()["usd_on_demand"]


def test_down_stops_every_process_it_started_and_frees_its_ports(cluster):
    pids = processes_of(cluster)
    cluster.down()
    assert_down(cluster, pids)
