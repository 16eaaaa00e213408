"""The local cluster's shape, read from the plan: one Ray node per Pod, scaled to this machine.

On GKE a Ray worker is a Pod; here it is a raylet. Each keeps the Pod's logical resources
multiplied by `scale` (Ray needs whole CPUs: at least 1), the labels the GKE node would carry,
and the prices of the node it would run on, so a local run can be priced as a GKE run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .._plan import Plan, RayGroup

OBJECT_STORE_BYTES = 100 * 2**20  # per worker raylet (Ray's minimum is ~75 MiB)
HEAD_OBJECT_STORE_BYTES = 200 * 2**20
LABEL_GROUP = "spotray.io/group"


@dataclass(frozen=True)
class LocalGroup:
    """One worker group as the local cluster runs it."""

    name: str
    spot: bool
    min_nodes: int
    max_nodes: int
    cpus: int  # logical CPUs of one Ray node (the Pod's, scaled)
    memory_bytes: int
    gpus: int
    labels: dict[str, str]
    priority: int
    idle_timeout_seconds: int | None
    machine_type: str
    zone: str
    pods_per_node: int
    usd_per_pod_hour_spot: float | None
    usd_per_pod_hour_on_demand: float | None

    @property
    def resources(self) -> dict[str, float]:
        """What Ray's autoscaler is told one node of this type offers."""
        out: dict[str, float] = {"CPU": self.cpus, "memory": self.memory_bytes}
        if self.gpus:
            out["GPU"] = self.gpus
        return out


def node_labels(group: RayGroup, zone: str) -> dict[str, str]:
    """The labels a Ray node of this group carries: those GKE puts on the pool's nodes (the
    plan's), the node's zone, the group's own Ray labels, and the group's name."""
    return {
        **group.pool.labels,
        "topology.kubernetes.io/zone": zone,
        **group.ray_labels,
        LABEL_GROUP: group.name,
    }


def default_scale(plan: Plan, cores: int | None = None) -> float:
    """A scale that lets this machine host the cluster: the Pods' CPUs at up to 4 nodes per
    group, squeezed into the machine's cores (never above 1)."""
    cores = cores or os.cpu_count() or 2
    wanted = sum(min(g.max_replicas, 4) * g.pod.requests.cpu_millis / 1000 for g in plan.workers)
    return min(1.0, cores / wanted) if wanted else 1.0


def local_groups(plan: Plan, scale: float) -> list[LocalGroup]:
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], not {scale}")
    out = []
    for g in plan.workers:
        pool = g.pool
        zone = pool.zones[0] if pool.zones else f"{pool.region}-a"
        per_pod = g.pods_per_node  # 0: the Pod fits no node, so it has no price
        out.append(
            LocalGroup(
                name=g.name,
                spot=pool.spot,
                min_nodes=g.min_replicas,
                max_nodes=g.max_replicas,
                cpus=max(1, round(g.pod.requests.cpu_millis / 1000 * scale)),
                memory_bytes=max(256 * 2**20, int(g.pod.requests.memory_bytes * scale)),
                gpus=g.pod.gpus,
                labels=node_labels(g, zone),
                priority=g.priority or 0,
                idle_timeout_seconds=g.idle_timeout_seconds,
                machine_type=pool.machine.name,
                zone=zone,
                pods_per_node=per_pod,
                usd_per_pod_hour_spot=_per_pod(pool.price.spot, per_pod),
                usd_per_pod_hour_on_demand=_per_pod(pool.price.on_demand, per_pod),
            )
        )
    return out


def _per_pod(node_price: float | None, pods_per_node: int) -> float | None:
    return node_price / pods_per_node if node_price is not None and pods_per_node else None
