"""How fast Ray learns that a node is gone: a hard kill vs a preemption notice + drain.

On GKE a Spot VM can vanish without the Pod's shutdown running to the end; Ray then finds out
through its health checks. With a notice, the node can be drained first (reason PREEMPTION):
Ray stops placing work there at once and the raylet leaves as soon as it is idle.

Both cases run on `ray.cluster_utils.Cluster` with Ray's default health checks (period 3 s,
timeout 10 s, 5 failures), one idle 1-CPU worker each:
  1. SIGKILL the worker's raylet; time until the GCS reports the node DEAD.
  2. Drain it (DRAIN_NODE_REASON_PREEMPTION, via spotray's Ray bridge); time until DEAD.
  3. SIGKILL again, with the health-check settings the local cluster uses (1 s period and
     timeout, 3 failures: see docs/local.md).
Prints all three and the ratios. Run: .venv/bin/python bench/preemption_detect.py
"""

from __future__ import annotations

import os
import signal
import time

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray
from ray.cluster_utils import Cluster

from spotray._local._raybridge import drain_node

MB = 2**20


def dead_after(cluster: Cluster, node_id: str, start: float, timeout: float = 120) -> float:
    while time.monotonic() - start < timeout:
        nodes = {n["NodeID"]: n for n in ray.nodes()}
        if not nodes[node_id]["Alive"]:
            return time.monotonic() - start
        time.sleep(0.05)
    raise TimeoutError("node not marked dead")


SPOTRAY_HEALTH = {
    "health_check_initial_delay_ms": 1000,
    "health_check_period_ms": 1000,
    "health_check_timeout_ms": 1000,
    "health_check_failure_threshold": 3,
}


def started(system_config: dict) -> tuple[Cluster, object]:
    """A head (no CPUs) and one idle 1-CPU worker, with a driver connected."""
    head = {"num_cpus": 0, "object_store_memory": 100 * MB, "include_dashboard": False}
    cluster = Cluster(
        initialize_head=True, head_node_args={**head, "_system_config": system_config}
    )
    node = cluster.add_node(num_cpus=1, object_store_memory=80 * MB)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, logging_level="ERROR")
    return cluster, node


def kill_with(system_config: dict) -> float:
    """Seconds from SIGKILL of the worker's raylet until the GCS says the node is dead."""
    cluster, node = started(system_config)
    try:
        raylet = node.all_processes[ray._private.ray_constants.PROCESS_TYPE_RAYLET][0].process
        start = time.monotonic()
        os.kill(raylet.pid, signal.SIGKILL)
        return dead_after(cluster, node.node_id, start)
    finally:
        ray.shutdown()
        cluster.shutdown()


def drain() -> float:
    """Seconds from a PREEMPTION drain request until the GCS says the node is dead."""
    cluster, node = started({})
    try:
        start = time.monotonic()
        deadline_ms = int((time.time() + 30) * 1000)
        accepted, why = drain_node(
            cluster.gcs_address, node.node_id, "preemption", "spot preemption", deadline_ms
        )
        assert accepted, why
        return dead_after(cluster, node.node_id, start)
    finally:
        ray.shutdown()
        cluster.shutdown()


def main() -> int:
    t_kill = kill_with({})
    t_drain = drain()
    t_tuned = kill_with(SPOTRAY_HEALTH)
    print(f"hard kill (default health checks):  node marked dead after {t_kill:.2f} s")
    print(f"notice + drain (PREEMPTION):        node marked dead after {t_drain:.2f} s")
    print(f"hard kill (spotray's local checks): node marked dead after {t_tuned:.2f} s")
    print(
        f"ratio kill / drain: {t_kill / max(t_drain, 0.01):.0f}x; "
        f"default / tuned health checks: {t_kill / t_tuned:.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
