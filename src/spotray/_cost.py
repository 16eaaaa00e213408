"""What a plan's cluster costs: per pool and for the cluster at its smallest and largest, on
Spot against the same machines on-demand, and per *useful* vCPU-hour and GiB-hour: what the
Ray Pods on a node actually request, after allocatable, system DaemonSets and packing.

Pure functions of the plan (its prices, Pods per node, node counts); `spotray cost` prints
them, `spotray advise` ranks machine types by them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ._plan import Plan, RayGroup
from ._quantity import MIB

GIB = 1024 * MIB


@dataclass(frozen=True)
class GroupCost:
    """One group and its pool, priced."""

    group: str
    pool: str
    machine: str
    spot: bool
    pods_per_node: int  # of the group's Pods on one node, at most the group's max replicas
    min_nodes: int
    max_nodes: int
    usd_per_node_hour: float | None  # at the pool's own market
    usd_per_node_hour_on_demand: float | None
    usd_per_node_hour_spot: float | None
    discount: float | None  # 1 - spot / on-demand (of the machine, whatever the pool's market)
    useful_vcpus_per_node: float  # what the node's Ray Pods request
    useful_gib_per_node: float
    usd_per_useful_vcpu_hour: float | None
    usd_per_useful_gib_hour: float | None

    @property
    def usd_per_hour_min(self) -> float | None:
        return _times(self.usd_per_node_hour, self.min_nodes)

    @property
    def usd_per_hour_max(self) -> float | None:
        return _times(self.usd_per_node_hour, self.max_nodes)


@dataclass(frozen=True)
class ClusterCost:
    """A plan's cluster, priced: the groups, and the totals at min and max scale, as planned
    (Spot where the pools are Spot) and with every pool on-demand."""

    cluster: str
    region: str
    groups: tuple[GroupCost, ...]
    price_source: dict

    def total(self, scale: str, market: str = "as-planned") -> float | None:
        """USD per hour of the cluster at `scale` ("min" or "max") at `market`: "as-planned"
        or "on-demand" (the same machines, every pool on-demand)."""
        values = []
        for g in self.groups:
            nodes = g.min_nodes if scale == "min" else g.max_nodes
            price = g.usd_per_node_hour if market == "as-planned" else g.usd_per_node_hour_on_demand
            values.append(_times(price, nodes))
        return None if any(v is None for v in values) else round(sum(values), 6)

    def saving(self, scale: str) -> float | None:
        """The share of the all-on-demand cost the plan saves at `scale`."""
        ours, od = self.total(scale), self.total(scale, "on-demand")
        return None if ours is None or not od else 1 - ours / od

    def to_json(self) -> dict:
        out = {
            "cluster": self.cluster,
            "region": self.region,
            "groups": [
                {
                    **asdict(g),
                    "usd_per_hour_min": g.usd_per_hour_min,
                    "usd_per_hour_max": g.usd_per_hour_max,
                }
                for g in self.groups
            ],
            "price_source": self.price_source,
        }
        for scale in ("min", "max"):
            out[f"usd_per_hour_{scale}"] = self.total(scale)
            out[f"usd_per_hour_{scale}_on_demand"] = self.total(scale, "on-demand")
            out[f"saving_{scale}"] = self.saving(scale)
        return out


def _times(price: float | None, n: int) -> float | None:
    return None if price is None else round(price * n, 6)


def group_cost(group: RayGroup) -> GroupCost:
    """A group's pool priced, and its price per useful vCPU-hour and GiB-hour."""
    pool = group.pool
    price = pool.usd_per_node_hour
    # a node holds no more of the group's Pods than the group may have (one head)
    pods = min(group.pods_per_node, 1 if group.is_head else max(1, group.max_replicas))
    vcpus = pods * group.pod.requests.cpu_millis / 1000
    gib = pods * group.pod.requests.memory_bytes / GIB
    spot, od = pool.price.spot, pool.price.on_demand
    return GroupCost(
        group=group.name,
        pool=pool.name,
        machine=pool.machine.name,
        spot=pool.spot,
        pods_per_node=pods,
        min_nodes=1 if group.is_head else -(-group.min_replicas // max(1, pods)),
        max_nodes=1 if group.is_head else group.max_vms,
        usd_per_node_hour=price,
        usd_per_node_hour_on_demand=od,
        usd_per_node_hour_spot=spot,
        discount=None if spot is None or not od else round(1 - spot / od, 4),
        useful_vcpus_per_node=round(vcpus, 3),
        useful_gib_per_node=round(gib, 3),
        usd_per_useful_vcpu_hour=None if price is None or vcpus <= 0 else round(price / vcpus, 6),
        usd_per_useful_gib_hour=None if price is None or gib <= 0 else round(price / gib, 6),
    )


def cluster_cost(plan: Plan) -> ClusterCost:
    """The plan's cluster priced (the head counts one node at both scales)."""
    return ClusterCost(
        cluster=plan.name,
        region=plan.region,
        groups=tuple(group_cost(g) for g in plan.groups),
        price_source=dict(plan.price_source),
    )
