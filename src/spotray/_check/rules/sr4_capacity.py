"""SR4xx: capacity and autoscaling: can the pools hold what the groups may ask for?"""

from __future__ import annotations

from ..._plan import pods_fitting
from .._context import as_int, autoscaling_enabled, groups, pod_requests
from .._finding import Severity
from .._registry import Rule, register


@register
class CapacityShort(Rule):
    """A worker group may ask for more Pods than its node pools can hold.

    What it does
        Compares `maxReplicas × numOfHosts` with what the pools the group can land on hold at
        their autoscaling maximum: max nodes (per zone × zones, or total) × Pods per node (the
        fit model of SR3xx). Pools whose maximum or machine is unknown, or where the Pod fits no
        node (SR301), are not counted; the rule stays silent when no pool is counted.

    Why is this bad?
        The Ray autoscaler believes it may grow the group to `maxReplicas`; the Pods past the
        pools' capacity stay Pending, and work planned for them waits (or a RayJob times out).

    Example
        maxReplicas: 200 on a pool of e2-standard-4 nodes, max 10 per zone in 3 zones, one Pod
        per node: 30 Pods at most.

    Use instead
        maxReplicas: 30, or raise the pool's max_node_count.
    """

    code = "SR401"
    name = "capacity-short"
    severity = Severity.WARNING
    fix = "Lower maxReplicas to the pools' capacity, or raise the pools' max node count."

    def check(self, ctx):
        if not ctx.pools:
            return
        for group in groups(ctx, workers=True):
            top = as_int(group.spec.get("maxReplicas"))
            hosts = as_int(group.spec.get("numOfHosts")) or 1
            req = pod_requests(group.spec)  # every container's, and the sidecars'
            if top is None or req is None:
                continue
            pools = ctx.placement(group.cluster, group.spec, group.path).pools
            capacity, counted = 0, []
            for pool in pools:
                avail, nodes = pool.available, pool.max_nodes
                if avail is None or nodes is None:
                    continue
                per_node, _ = pods_fitting(avail, req, pool.pods_limit)
                if per_node == 0:
                    continue  # the Pod fits no node of this pool: SR301/SR302 say so
                capacity += per_node * nodes
                counted.append(f"{pool.name} {nodes}×{per_node}")
            if counted and top * hosts > capacity:
                yield self.finding(
                    group.cluster.doc,
                    group.at("maxReplicas"),
                    f"{group.label}: maxReplicas {top}"
                    + (f" × numOfHosts {hosts}" if hosts != 1 else "")
                    + f" = {top * hosts} Pods, but its pools hold {capacity} "
                    f"(nodes × Pods per node: {', '.join(counted)})",
                )


@register
class AutoscalingFixedGroup(Rule):
    """A worker group with minReplicas = maxReplicas in an autoscaling cluster.

    What it does
        Warns when `enableInTreeAutoscaling` is true and a worker group's `minReplicas` equals
        its `maxReplicas`.

    Why is this bad?
        The autoscaler can never change that group: it is fixed-size (or, at 0, never gets a
        Pod), while the manifest suggests it scales. On Spot, a fixed-size group also cannot
        fall back to on-demand capacity.

    Example
        enableInTreeAutoscaling: true
        workerGroupSpecs: [{groupName: cpu, minReplicas: 4, maxReplicas: 4, ...}]

    Use instead
        workerGroupSpecs: [{groupName: cpu, minReplicas: 0, maxReplicas: 4, ...}]
    """

    code = "SR402"
    name = "autoscaling-fixed-group"
    severity = Severity.WARNING
    fix = "Give the group room to scale (minReplicas < maxReplicas), or turn autoscaling off."

    def check(self, ctx):
        for group in groups(ctx, workers=True):
            if not autoscaling_enabled(group.cluster.spec):
                continue
            lo, hi = as_int(group.spec.get("minReplicas")), as_int(group.spec.get("maxReplicas"))
            if lo is not None and lo == hi:
                yield self.finding(
                    group.cluster.doc,
                    group.at("maxReplicas"),
                    f"{group.label}: minReplicas = maxReplicas = {lo} with autoscaling on; "
                    + (
                        "the group never gets a Pod"
                        if lo == 0
                        else "the autoscaler cannot scale it"
                    ),
                )


@register
class SpotWithoutFallback(Rule):
    """A Spot-only worker group with no lower-priority on-demand group to fall back to.

    What it does
        For a worker group whose Pods can only land on Spot pools, looks for another worker
        group of the same cluster that lands only on on-demand pools and has a lower `priority`
        (autoscaler v2 tries higher priorities first). Reports when there is none.

    Why is this bad?
        During a Spot stockout (no capacity in the region for hours) the autoscaler keeps asking
        for Spot nodes and the work waits. An on-demand group with a lower priority lets Ray
        fall back at the on-demand price and return to Spot when it can.

    Example
        workerGroupSpecs: [{groupName: cpu-spot, ...}]  # Spot pools only

    Use instead
        workerGroupSpecs: [{groupName: cpu-spot, priority: 10, ...},
                           {groupName: cpu-ondemand, priority: 0, ...}]
    """

    code = "SR403"
    name = "spot-without-fallback"
    severity = Severity.INFO
    fix = "Add an on-demand worker group with a lower priority (autoscaler v2, Ray >= 2.56)."

    def check(self, ctx):
        if not ctx.pools:
            return
        for cluster in ctx.clusters:
            market: dict[str, tuple[str, int]] = {}
            mine = list(groups(ctx, workers=True, cluster=cluster))
            for group in mine:
                pools = ctx.placement(cluster, group.spec, group.path).pools
                spots = {p.spot for p in pools}
                kind = "spot" if spots == {True} else "on-demand" if spots == {False} else "mixed"
                market[group.name] = (kind, as_int(group.spec.get("priority")) or 0)
            for group in mine:
                kind, priority = market[group.name]
                if kind != "spot":
                    continue
                if not any(k == "on-demand" and p < priority for k, p in market.values()):
                    yield self.finding(
                        cluster.doc,
                        group.path,
                        f"{group.label}: lands only on Spot pools and has no lower-priority "
                        "on-demand group to fall back to during a stockout",
                    )
