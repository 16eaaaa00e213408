"""`spotray.resumable` on the local Spot cluster (real Ray): a preemption notice reaches the
running task, which saves at once and resumes elsewhere; a task preempted more often than its
budget still finishes exactly, redoing at most one step per preemption, where plain Ray starts
over; exceptions and crashes that are not preemptions spend the budget. One cluster for the
module, stopped by PID."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import spotray
from spotray import local
from spotray.resumable import ledger

from .conftest import ROOT, driver, last_json, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("local_state_dir")]
SPEC = ROOT / "tests" / "data" / "local-spec.yaml"
TIME_SCALE = 5  # the 15 s Spot window becomes 3 s; the notice comes 0.2 s before SIGTERM

# One driver for every scenario: a task of STEPS steps of STEP seconds on small-group, logging
# every step it runs (attempt, step) to a file, so the test can count work redone.
DRIVER = r"""
import json, os, sys, time
import ray
from spotray.resumable import resumable

mode, store, key, steps, step_s, max_retries, fail = sys.argv[1:8]
steps, step_s, max_retries = int(steps), float(step_s), int(max_retries)
log = os.path.join(store, key + ".steps")
on_small = {"label_selector": {"spotray.io/group": "small-group"}, "num_cpus": 1}

def run(attempt, start, acc, step):
    for i in range(start, steps):
        with open(log, "a") as f:
            f.write(f"{attempt} {i}\n")
        if fail == "raise" and i == 2:
            raise ValueError("boom")
        if fail == "exit" and i == 2:
            os._exit(1)
        time.sleep(step_s)
        acc += i * i
        step({"i": i + 1, "acc": acc})
    return acc

ray.init(logging_level="ERROR", log_to_driver=False)
if mode == "resumable":
    @resumable(store=store, key=key, max_retries=max_retries, **on_small)
    def task(ckpt):
        state = ckpt.load(default={"i": 0, "acc": 0})
        return {"acc": run(ckpt.attempt, state["i"], state["acc"], ckpt.step),
                "resumed_at": state["i"]}
else:
    @ray.remote(max_retries=max_retries, **on_small)
    def task():
        return {"acc": run(-1, 0, 0, lambda state: None), "resumed_at": 0}
try:
    print(json.dumps({"ok": ray.get(task.remote())}))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)[:2000]}))
"""


@pytest.fixture(scope="module")
def cluster(local_state_dir):
    plan = spotray.plan(spotray.load_spec(SPEC))
    c = local.up(plan, scale=1.0, time_scale=TIME_SCALE, provision_seconds=0.5)
    yield c
    c.down()


def start(cluster, store, key, *, mode="resumable", steps=20, step_s=0.5, retries=1, fail="-"):
    argv = [sys.executable, "-c", DRIVER, mode, str(store), key, str(steps), str(step_s)]
    return driver(cluster, [*argv, str(retries), fail])


def result(proc, timeout=300) -> dict:
    return last_json(proc, timeout)


def steps_run(store, key) -> list[tuple[int, int]]:
    path = store / f"{key}.steps"
    text = path.read_text() if path.exists() else ""
    return [tuple(map(int, line.split())) for line in text.splitlines()]


def preempt_when_running(cluster, store, key, *, after_steps: int) -> float:
    """Preempt the small-group VM once the task's current attempt has run `after_steps`
    steps; returns when (time.time())."""
    attempts = len(ledger(str(store), key))

    def progressed():
        entries = ledger(str(store), key)
        if not entries or entries[-1]["status"] != "running":
            return False
        mine = [s for a, s in steps_run(store, key) if a == entries[-1]["attempt"]]
        return len(entries) >= attempts and len(mine) >= after_steps

    try:
        wait_until(progressed, 120, f"{key} to run {after_steps} steps")
    except AssertionError:
        raise AssertionError(
            f"{key}: ledger {ledger(str(store), key)}, steps {steps_run(store, key)}"
        ) from None
    at = time.time()
    # every small-group VM: the one that runs the task among them (others may idle there)
    assert cluster.preempt("small-group", share=1.0), "no small-group VM to preempt"
    return at


def test_a_notice_reaches_the_task_which_saves_and_resumes_elsewhere(cluster, tmp_path):
    store, key = tmp_path, "notice"
    proc = start(cluster, store, key, steps=16)
    preempted_at = preempt_when_running(cluster, store, key, after_steps=4)
    entry = wait_until(
        lambda: next((e for e in ledger(str(store), key) if "saved_after_notice" in e), None),
        10,
        "the notice to reach the task",
    )
    latency = entry["notice_at"] - preempted_at
    print(f"notice -> task latency {latency:.2f} s ({entry['notice_source']})")
    assert latency <= 3.0
    assert entry["saved_after_notice"] <= 1.0
    out = result(proc)
    assert out == {
        "ok": {"acc": sum(i * i for i in range(16)), "resumed_at": out["ok"]["resumed_at"]}
    }
    assert out["ok"]["resumed_at"] >= 4  # the retry started from the saved state
    entries = ledger(str(store), key)
    assert [e["status"] for e in entries] == ["preempted", "done"]
    assert entries[0]["node"] != entries[1]["node"]


def test_preempted_three_times_with_one_retry_it_finishes_exactly(cluster, tmp_path):
    n = 24
    exact = sum(i * i for i in range(n))
    store = tmp_path
    resumable = start(cluster, store, "long", steps=n, retries=1)
    for k in range(3):
        preempt_when_running(cluster, store, "long", after_steps=3)
        wait_until(
            lambda k=k: sum(e["status"] == "preempted" for e in ledger(str(store), "long")) > k,
            15,
            f"preemption {k + 1}",
        )
    out = result(resumable)
    assert out["ok"]["acc"] == exact, out
    entries = ledger(str(store), "long")
    assert [e["status"] for e in entries] == ["preempted"] * 3 + ["done"]
    runs = steps_run(store, "long")
    redone = len(runs) - n
    print(f"resumable: {len(runs)} steps run for {n}; redone {redone} over 3 preemptions")
    assert sorted({s for _, s in runs}) == list(range(n))
    assert redone <= 3  # at most the step in progress, per preemption

    # the same task as plain Ray (max_retries=1), preempted the same way
    plain = start(cluster, store, "plain", mode="plain", steps=n, retries=1)
    for _ in range(2):
        time.sleep(3)
        wait_until(lambda: len(steps_run(store, "plain")) >= 3, 120, "the plain task to run")
        cluster.preempt("small-group", share=1.0)
    out = result(plain)
    runs = steps_run(store, "plain")
    print(f"plain Ray: {out}; {len(runs)} steps run")
    # plain Ray starts over every time: it redoes all that it did, or fails
    assert "error" in out or len(runs) > n + 3


def test_an_exception_fails_after_its_budget_and_a_crash_is_not_a_preemption(cluster, tmp_path):
    raised = result(start(cluster, tmp_path, "raise", steps=6, retries=1, fail="raise"))
    assert raised["error"] == "RayTaskError(ValueError)" or "ValueError" in raised["message"]
    assert [e["status"] for e in ledger(str(tmp_path), "raise")] == ["error", "error"]

    crashed = result(start(cluster, tmp_path, "exit", steps=6, retries=1, fail="exit"))
    assert "ResumableError" in crashed.get("message", "") + crashed.get("error", ""), crashed
    statuses = [e["status"] for e in ledger(str(tmp_path), "exit")]
    assert statuses[:2] == ["crashed", "crashed"] and "preempted" not in statuses


# Watches one node from outside (a process with the cluster's token): prints the node, then
# when (time.time()) the GCS first lists it as draining (with the deadline) or dead; then how
# the GCS recorded its death.
DRAIN_WATCH = r"""
import json, sys, time
from spotray._local._raybridge import alive_nodes, node_death
address, instance = sys.argv[1:3]
for _ in range(600):  # the VM runs; its raylet may not have registered yet
    found = [n for n in alive_nodes(address) if n["instance_id"] == instance]
    if found:
        break
    time.sleep(0.1)
(node,) = found
print(json.dumps(node), flush=True)
seen = None
while True:
    found = [n for n in alive_nodes(address) if n["node_id"] == node["node_id"]]
    if seen is None and (not found or found[0]["draining_deadline_ms"]):
        seen = {"at": time.time(), "deadline_ms": found[0]["draining_deadline_ms"] if found else None}
        print(json.dumps(seen), flush=True)
    if not found:
        print(json.dumps({"death": node_death(address, node["node_id"])}), flush=True)
        break
    time.sleep(0.05)
"""


def test_the_agent_drains_its_node_and_ray_records_a_preemption(cluster):
    """`spotray agent` on a medium-group VM, watching a metadata server the test controls:
    at TRUE it drains that Ray node with reason PREEMPTION and a deadline of notice +
    notice-seconds - margin. An idle node drained so ends at once; a busy one at its deadline
    (the VM is preempted then, if it is still up). Either way Ray must record the death as
    AUTOSCALER_DRAIN_PREEMPTED, which it does not charge to tasks' retries (ray#54182)."""
    from .test_agent import FlakyMetadata

    running = [i for i in cluster.instances() if i["group"] == "medium-group"]
    (vm,) = [i for i in running if i["state"] == "running"]
    env = {**os.environ, **cluster.env, "RAY_CLOUD_INSTANCE_ID": vm["id"]}
    watch = subprocess.Popen(
        [sys.executable, "-c", DRAIN_WATCH, cluster.address, vm["id"]],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    server = FlakyMetadata()
    argv = ["agent", "--metadata-host", server.host, "--address", cluster.address]
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spotray.cli",
            *argv,
            "--notice-seconds",
            "4",
            "--margin-seconds",
            "1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        json.loads(watch.stdout.readline())  # the node is known
        time.sleep(2.0)  # the agent is long-polling
        assert agent.poll() is None
        noticed = time.time()
        server.set("TRUE")
        out, _ = agent.communicate(timeout=10)
        assert agent.returncode == 0 and "reason PREEMPTION" in out, out
        drained = json.loads(watch.stdout.readline())
        print(f"metadata TRUE -> node draining or gone: {drained['at'] - noticed:.2f} s")
        assert drained["at"] - noticed < 3.0
        if drained["deadline_ms"]:
            deadline = drained["deadline_ms"] / 1000
            assert abs(deadline - (noticed + 4 - 1)) < 1.0  # notice + 4 s less the 1 s margin
            time.sleep(max(0.0, deadline - time.time()) + 0.5)
            cluster.preempt("medium-group", share=1.0)
        death = json.loads(watch.stdout.readline())["death"]
        print(f"Ray recorded the death as {death}")
        assert death == "AUTOSCALER_DRAIN_PREEMPTED"
    finally:
        for proc in (agent, watch):
            if proc.poll() is None:
                proc.kill()
        server.close()


BUSY = r"""
import ray, sys, time
ray.init(logging_level="ERROR", log_to_driver=False)
@ray.remote(num_cpus=1, max_retries=0, label_selector={"spotray.io/group": "medium-group"})
def busy():
    time.sleep(300)
ref = busy.remote()
time.sleep(600)
"""


# The medium-group node that is alive in the GCS (a VM just drained while idle may still be
# listed as running for a moment), as {"node_id", "instance_id"}.
ALIVE_MEDIUM = r"""
import json, sys, time
from spotray._local._raybridge import alive_nodes
for _ in range(600):
    found = [n for n in alive_nodes(sys.argv[1]) if n["instance_id"].startswith("medium-group-")
             and not n["draining_deadline_ms"]]
    if found:
        print(json.dumps(found[0]), flush=True)
        break
    time.sleep(0.1)
"""


def busy_medium_node(cluster) -> tuple[dict, str, subprocess.Popen]:
    """A live medium-group VM, its Ray node id, and a driver keeping it busy."""
    node = last_json(driver(cluster, [sys.executable, "-c", ALIVE_MEDIUM, cluster.address]), 120)
    (vm,) = [i for i in cluster.instances() if i["id"] == node["instance_id"]]
    proc = driver(cluster, [sys.executable, "-c", BUSY])
    time.sleep(4)  # the task runs
    return vm, node["node_id"], proc


def death_of(cluster, node: str) -> str:
    probe = "import sys; from spotray._local._raybridge import node_death; print(node_death(*sys.argv[1:]))"

    def dead():
        out = driver(cluster, [sys.executable, "-c", probe, cluster.address, node])
        answer = out.communicate(timeout=60)[0].strip().splitlines()[-1]
        return None if answer == "None" else answer

    return wait_until(dead, 60, "the node's death", every=0.5)


def test_a_busy_preempted_node_dies_as_a_preemption_in_ray(cluster):
    """`ray start` drains on SIGTERM and stops its node at that drain's deadline, which races
    the GCS's check of the deadline (without the preStop drain, 2 of 4 busy nodes were
    recorded as EXPECTED_TERMINATION). The local cluster's preStop drain, as rendered for
    GKE, sets an earlier deadline: every busy preempted node must die as a preemption."""
    deaths = []
    for _ in range(3):
        _vm, node, proc = busy_medium_node(cluster)
        try:
            cluster.preempt("medium-group", share=1.0)
            deaths.append(death_of(cluster, node))
        finally:
            proc.kill()
            proc.wait()
    print(f"Ray recorded: {deaths}")
    assert deaths == ["AUTOSCALER_DRAIN_PREEMPTED"] * 3


def test_the_rendered_prestop_hook_is_a_drain_ray_accepts(cluster):
    """The preStop command spotray renders, run with Ray's own CLI against a busy node (its
    node and address given, since here all nodes share one machine), then SIGTERM as the
    kubelet sends next: Ray records a preemption."""
    import signal

    from spotray._render._raycluster import predrain_hook

    vm, node, proc = busy_medium_node(cluster)
    try:
        script = predrain_hook(1)["preStop"]["exec"]["command"][-1]
        script = script.replace(" || true", f" --address {cluster.address} --node-id {node}")
        path = f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"  # Ray's `ray` CLI
        hook = subprocess.run(
            ["/bin/sh", "-c", script],
            env={**os.environ, **cluster.env, "PATH": path},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert hook.returncode == 0, hook.stdout + hook.stderr
        os.kill(vm["pid"], signal.SIGTERM)  # what the kubelet does after the hook
        assert death_of(cluster, node) == "AUTOSCALER_DRAIN_PREEMPTED"
    finally:
        proc.kill()
        proc.wait()
