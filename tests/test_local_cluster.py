"""The local spot cluster on real Ray: up/down by PID, Ray's autoscaler v2 through spotray's
node provider, preemptions through notice → SIGTERM → kill, stockouts, and a job that must
finish exactly while its nodes are taken away. One cluster for the module (plus a short-lived
one for the seed example); every process is stopped by PID, never with `ray stop`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

import spotray
from spotray import local

from .conftest import EXAMPLES, ROOT
from .conftest import wait_until as _wait_until

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("local_state_dir")]
SPEC = ROOT / "tests" / "data" / "local-spec.yaml"
TIME_SCALE = 5  # the 15 s Spot window becomes 3 s


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


def test_a_dead_controllers_cluster_is_found_reported_and_stopped(capsys):
    from spotray.cli import main

    seed = str(EXAMPLES / "seed.yaml")
    plan = spotray.plan(spotray.load_spec(EXAMPLES / "seed.yaml"))
    cluster = local.up(plan, provision_seconds=0)
    pids = processes_of(cluster) - {cluster.controller_pid}
    os.kill(cluster.controller_pid, 9)  # as the OOM killer would
    wait_until(lambda: not alive({cluster.controller_pid}), 10, "the controller to die")
    assert local.find(plan.name) is None and alive(pids)  # the head is orphaned
    capsys.readouterr()
    assert main(["status"]) == 1
    assert f"local cluster {plan.name!r}: controller dead, " in capsys.readouterr().err
    assert main(["up", seed, "--local"]) == 2  # not a second cluster over the orphan
    assert f"spotray down --name {plan.name}" in capsys.readouterr().err
    assert main(["down"]) == 0
    assert_down(cluster, pids)
    assert local.leftovers(plan.name) == []
    assert main(["down"]) == 0  # nothing left: a no-op
    assert "nothing is running" in capsys.readouterr().out
    again = local.up(plan, provision_seconds=0)  # and a new one starts
    try:
        assert again.instances()[0]["state"] == "running"
    finally:
        again.down()
    assert local.leftovers(plan.name) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP], ids=["ctrl-c", "hang-up"])
def test_ctrl_c_during_run_stops_the_job_reports_and_leaves_nothing(sig, tmp_path):
    import jsonschema

    from spotray._report_schema import SCHEMA

    report, marker = tmp_path / "report.json", tmp_path / "job.pid"
    job = f"import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); time.sleep(600)"
    cli = "import sys; from spotray.cli import main; sys.exit(main())"
    run = subprocess.Popen(
        [
            sys.executable,
            "-c",
            cli,
            "run",
            str(EXAMPLES / "seed.yaml"),
            "--local",
            "--report",
            str(report),
            "--",
            sys.executable,
            "-c",
            job,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # as a terminal's foreground job: a suite started in the background (`make test &`)
        # passes SIGINT on as ignored, and Python then keeps ignoring it (POSIX convention)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_until(lambda: marker.exists() and marker.read_text(), 120, "the job to start")
    job_pid = int(marker.read_text())
    run.send_signal(sig)
    output, _ = run.communicate(timeout=90)
    assert run.returncode == 130, output
    data = json.loads(report.read_text())
    jsonschema.validate(data, SCHEMA)
    assert data["interrupted"] is True and data["exit_code"] is None
    assert f"report written to {report}" in output
    assert not alive({job_pid})
    assert local.find("ray-cluster") is None and local.leftovers("ray-cluster") == []


@pytest.fixture(scope="module")
def cluster(local_state_dir):
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
    return _wait_until(predicate, timeout, what, every=0.5)


def test_min_nodes_come_up_with_the_cluster(cluster):
    assert len(running(cluster, "medium-group")) == 1
    assert running(cluster, "small-group") == []


DRIVER = """
import time, ray
ray.init(logging_level="ERROR", log_to_driver=False)

@ray.remote(num_cpus=1, label_selector={"spotray.io/group": "small-group"})
def work(i):
    time.sleep(4)
    return i

print(sorted(ray.get([work.remote(i) for i in range(6)])))
"""


def test_demand_scales_a_group_up_from_zero_within_its_max(cluster):
    # a driver as a user runs one: its own process, with the environment `up` prints
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER],
        env={**os.environ, **cluster.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    peak = 0
    while driver.poll() is None:
        alive_small = [
            i
            for i in cluster.instances()
            if i["group"] == "small-group" and i["state"] != "terminated"
        ]
        peak = max(peak, len(alive_small))
        time.sleep(0.5)
    output = driver.stdout.read()
    assert driver.returncode == 0, output
    assert "[0, 1, 2, 3, 4, 5]" in output
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
    assert events[-5:] == ["notice", "pre-stop", "sigterm", "kill", "terminated"]


def test_a_stockout_keeps_a_preempted_node_from_being_replaced_until_it_ends(cluster):
    (old,) = wait_until(lambda: running(cluster, "medium-group"), 60, "a medium-group node")
    cluster.stockout("medium-group", 15)
    cluster.preempt("medium-group")
    start = time.monotonic()
    # as on GKE: the replacement is created and stays pending (no raylet) during the stockout
    wait_until(
        lambda: any(e["event"] == "stockout-pending" for e in cluster.events()),
        15,
        "the autoscaler's replacement to wait for capacity",
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
        assert kinds[i : i + 4] == ["notice", "pre-stop", "sigterm", "kill"], kinds
    # the report's counts are Ray's: compare with the state API, asked independently
    attempts = settled_attempts(cluster, job_ids(cluster) - before)
    failed = [a for a in attempts if a["state"] == "FAILED"]
    assert report.tasks == 40
    assert report.task_attempts == len(attempts)
    assert report.failed_attempts == len(failed) >= 1, (report, cluster.events())
    assert report.retried_attempts == sum(1 for a in attempts if a["attempt_number"] > 0) >= 1
    assert report.goodput is not None and 0 < report.goodput < 1
    # how Ray recorded each lost node's death, from its own state API
    lost = report.failed_by_cause.get("NODE_DIED", 0)
    assert report.attempts_by_cause.get("preempted", 0) == lost
    assert sum(report.node_deaths_by_ray.values()) == lost
    assert set(report.node_deaths_by_ray) <= {
        "preemption",
        "unexpected",
        "expected",
        "idle",
        "unknown",
    }
    print(f"nodes lost under tasks, as Ray recorded them: {report.node_deaths_by_ray}")
    assert report.to_json()["usd_as_run"] < report.to_json()["usd_on_demand"]


LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


def _listeners(pids: set[int]) -> list[tuple[str, str, int]]:
    """(process name, bind address, port) of every listening TCP socket of `pids`."""
    out = []
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.pid in pids:
            with contextlib.suppress(psutil.Error):
                out.append((psutil.Process(conn.pid).name(), conn.laddr.ip, conn.laddr.port))
    return out


def _allowlist() -> set[tuple[str, str]]:
    """docs/local.md's table of listeners allowed off loopback: (process, bind address)."""
    text = (ROOT / "docs" / "local.md").read_text()
    section = text.split("### Listeners off loopback", 1)[1].split("\n#", 1)[0]
    rows = set()
    for line in section.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0] not in ("process", "") and not cells[0].startswith("-"):
            rows.add((cells[0], cells[1]))
    return rows


def test_every_listener_is_on_loopback_or_on_the_documented_allowlist(cluster):
    pids = processes_of(cluster)
    listeners = _listeners(pids)
    assert len(listeners) >= 8  # GCS, raylets, dashboard, agents, client server, controller...
    allowed = _allowlist()
    off = [(name, ip, port) for name, ip, port in listeners if ip not in LOOPBACK]
    assert [(n, ip, p) for n, ip, p in off if (n, ip) not in allowed] == []


def _http(url: str, method: str = "GET", body: bytes | None = None, headers=None) -> int:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _grpc_code(port: int, call) -> str:
    import grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            call(channel)
            return "OK"
        except grpc.RpcError as exc:
            return exc.code().name


def test_endpoints_that_run_code_or_change_the_cluster_refuse_requests_without_the_token(
    cluster, tmp_path
):
    from ray.core.generated import (
        gcs_service_pb2,
        gcs_service_pb2_grpc,
        node_manager_pb2,
        node_manager_pb2_grpc,
        ray_client_pb2,
        ray_client_pb2_grpc,
    )

    proof = tmp_path / "ran"
    job = json.dumps({"entrypoint": f"touch {proof}"}).encode()
    json_header = {"Content-Type": "application/json"}
    # the dashboard's job API and state API
    assert _http(f"{cluster.dashboard_url}/api/jobs/", "POST", job, json_header) == 401
    assert _http(f"{cluster.dashboard_url}/api/v0/nodes") == 401
    bearer = {"Authorization": f"Bearer {cluster.token}"}
    assert _http(f"{cluster.dashboard_url}/api/v0/nodes", headers=bearer) == 200
    wrong = {"Authorization": "Bearer " + "0" * 64}
    assert _http(f"{cluster.dashboard_url}/api/jobs/", "POST", job, {**json_header, **wrong}) == 403
    # every dashboard agent's HTTP job API (each node has one; try each port it listens on)
    pids = processes_of(cluster)
    agents = [(p, port) for name, _, port in _listeners(pids) for p in [name] if "Dashboard" in p]
    codes = {
        _http(f"http://127.0.0.1:{port}/api/job_agent/jobs/", "POST", job, json_header)
        for _, port in agents
        if _is_http(port)
    }
    assert 401 in codes and not any(200 <= c < 300 for c in codes), codes
    # GCS and raylet gRPC
    gcs = _grpc_code(
        cluster.gcs_port,
        lambda ch: gcs_service_pb2_grpc.NodeInfoGcsServiceStub(ch).GetAllNodeInfo(
            gcs_service_pb2.GetAllNodeInfoRequest(), timeout=10
        ),
    )
    assert gcs == "UNAUTHENTICATED"
    raylet_ports = [port for name, _, port in _listeners(pids) if name == "raylet"]
    raylet = {
        _grpc_code(
            port,
            lambda ch: node_manager_pb2_grpc.NodeManagerServiceStub(ch).GetNodeStats(
                node_manager_pb2.GetNodeStatsRequest(), timeout=10
            ),
        )
        for port in raylet_ports
    }
    assert "UNAUTHENTICATED" in raylet and "OK" not in raylet, raylet
    # the Ray client server
    client = _grpc_code(
        cluster.config["client_port"],
        lambda ch: ray_client_pb2_grpc.RayletDriverStub(ch).ClusterInfo(
            ray_client_pb2.ClusterInfoRequest(type=ray_client_pb2.ClusterInfoType.PING),
            timeout=10,
        ),
    )
    assert client == "UNAUTHENTICATED", client
    time.sleep(2)
    assert not proof.exists()  # no job ran


def _is_http(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            s.settimeout(5)
            return s.recv(5).startswith(b"HTTP/")
    except OSError:
        return False


def test_the_controller_refuses_requests_without_its_secret(cluster):
    before = cluster.instances()
    body = json.dumps({"group": "medium-group"}).encode()
    assert _http(f"{cluster.url}/instances") == 401
    assert _http(f"{cluster.url}/preempt", "POST", body) == 401
    assert _http(f"{cluster.url}/shutdown", "POST", b"{}", {"Authorization": "Bearer x"}) == 401
    # the secret is checked before the body is read: a huge declared body gets 401 at once
    huge = {"Content-Length": str(10**12), "Authorization": "Bearer nope"}
    assert _http(f"{cluster.url}/preempt", "POST", b"{}", huge) == 401
    secret = {"Authorization": f"Bearer {cluster.secret}"}
    assert _http(f"{cluster.url}/preempt", "POST", b"[1]", secret) == 400
    assert _http(f"{cluster.url}/preempt", "POST", b"{not json", secret) == 400
    assert _http(f"{cluster.url}/preempt", "POST", b'{"group": 1}', secret) == 400
    assert (
        _http(
            f"{cluster.url}/stockout", "POST", b'{"group": "medium-group", "seconds": NaN}', secret
        )
        == 400
    )
    # a schedule the cloud could not play is refused whole, before anything runs
    too_long = json.dumps(
        {"stockouts": [{"at": 0, "group": "medium-group", "seconds": 1e7}], "preemptions": []}
    ).encode()
    assert _http(f"{cluster.url}/schedule", "POST", too_long, secret) == 400
    negative_slot = json.dumps(
        {"preemptions": [{"at": 0, "group": "medium-group", "slot": -1}]}
    ).encode()
    assert _http(f"{cluster.url}/schedule", "POST", negative_slot, secret) == 400
    zero = json.dumps({"group": "medium-group", "count": 0}).encode()
    assert _http(f"{cluster.url}/preempt", "POST", zero, secret) == 400
    after = cluster.instances()
    assert [(i["id"], i["state"]) for i in after] == [(i["id"], i["state"]) for i in before]
    log = (cluster.state / "logs" / "controller.log").read_text()
    assert "Traceback" not in log


def test_run_exits_with_the_jobs_own_code_and_writes_a_valid_report(cluster, tmp_path, capsys):
    import jsonschema

    from spotray._report_schema import SCHEMA
    from spotray.cli import main

    report = tmp_path / "report.json"
    code = main(
        [
            "run",
            str(SPEC),
            "--local",
            "--report",
            str(report),
            "--",
            sys.executable,
            "-c",
            "raise SystemExit(3)",
        ]
    )
    assert code == 3
    data = json.loads(report.read_text())
    jsonschema.validate(data, SCHEMA)
    assert data["exit_code"] == 3 and data["interrupted"] is False


def test_down_stops_every_process_it_started_and_frees_its_ports(cluster):
    pids = processes_of(cluster)
    cluster.down()
    assert_down(cluster, pids)
