"""SR4xx: capacity and autoscaling: can the pools hold what the groups may ask for?"""

from __future__ import annotations

from typing import NamedTuple

from ..._plan import ALLOCATE_TIMEOUT_ENV, pods_fitting
from ..._rayresources import Unknown, ray_labels, ray_resources, shortfall
from .._context import (
    Group,
    as_int,
    autoscaler_v2,
    autoscaling_enabled,
    env_of,
    groups,
    pod_requests,
)
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
        for cluster, spot, fallbacks in _spot_groups(ctx):
            if not fallbacks:
                yield self.finding(
                    cluster.doc,
                    spot.group.path,
                    f"{spot.group.label}: lands only on Spot pools and has no lower-priority "
                    "on-demand group to fall back to during a stockout",
                )


class _Market(NamedTuple):
    group: Group
    kind: str  # "spot", "on-demand" or "mixed": the pools its Pods can land on
    priority: int


def _spot_groups(ctx):
    """(cluster, Spot group, its lower-priority on-demand groups) for every worker group whose
    Pods land only on Spot pools; nothing without Terraform pools to place them on."""
    if not ctx.pools:
        return
    for cluster in ctx.clusters:
        markets = []
        for group in groups(ctx, workers=True, cluster=cluster):
            spots = {p.spot for p in ctx.placement(cluster, group.spec, group.path).pools}
            kind = "spot" if spots == {True} else "on-demand" if spots == {False} else "mixed"
            markets.append(_Market(group, kind, as_int(group.spec.get("priority")) or 0))
        for spot in markets:
            if spot.kind == "spot":
                below = [m for m in markets if m.kind == "on-demand" and m.priority < spot.priority]
                yield cluster, spot, below


# Ray 2.60 gives up on a Pod that stays Pending (a Spot stockout on GKE) after ALLOCATE_TIMEOUT_ENV
# seconds, by default this many, and only then ranks its group below the fallback
# (autoscaler/v2/instance_manager/config.py).
RAY_ALLOCATE_TIMEOUT_DEFAULT = 3600


@register
class FallbackAfterAnHour(Rule):
    """A Spot group's on-demand fallback is reached only after Ray's default hour.

    What it does
        For a cluster running autoscaler v2 with a Spot-only worker group and a lower-priority
        on-demand group, reads `RAY_AUTOSCALER_RECONCILE_ALLOCATE_STATUS_TIMEOUT_S` in
        `autoscalerOptions.env`. Reports when it is unset (Ray's default, 3600 s) or an hour
        or more.

    Why is this bad?
        On GKE a Spot stockout leaves the new worker Pod Pending. Ray's autoscaler counts that
        Pod as a node on its way and waits for it; only when it gives up, after this timeout,
        does it rank the Spot group below the fallback (Ray 2.60, autoscaler v2). With the
        default, work waits an hour before the on-demand group gets any of it. Set it to
        minutes, longer than a normal Pod start (node provisioning plus image pull: minutes,
        more for GPU nodes and images), since it applies to every Pending Pod of the cluster.

    Example
        autoscalerOptions: {version: v2}

    Use instead
        autoscalerOptions:
          version: v2
          env: [{name: RAY_AUTOSCALER_RECONCILE_ALLOCATE_STATUS_TIMEOUT_S, value: "600"}]
    """

    code = "SR404"
    name = "fallback-after-an-hour"
    severity = Severity.WARNING
    fix = (
        "Set RAY_AUTOSCALER_RECONCILE_ALLOCATE_STATUS_TIMEOUT_S in autoscalerOptions.env to "
        "minutes, above a normal Pod start (spotray renders 600 s, 1200 s with GPUs; "
        "docs/fallback.md)."
    )

    def check(self, ctx):
        for cluster, spot, fallbacks in _spot_groups(ctx):
            if not fallbacks or not autoscaling_enabled(cluster.spec):
                continue
            if not autoscaler_v2(cluster.spec):
                continue  # v1 ranks no group by availability: SR403 and SR109 speak for it
            options = cluster.spec.get("autoscalerOptions")
            options = options if isinstance(options, dict) else {}
            if options.get("envFrom"):
                continue  # the value may come from there: unknown
            env = env_of(options)
            value = env.get(ALLOCATE_TIMEOUT_ENV)
            if ALLOCATE_TIMEOUT_ENV in env and value is None:
                continue  # from a ConfigMap or Secret (valueFrom): unknown
            try:
                seconds = RAY_ALLOCATE_TIMEOUT_DEFAULT if value is None else int(str(value))
            except ValueError:
                continue  # not a number: Ray's autoscaler does not start (not this rule's say)
            if seconds < RAY_ALLOCATE_TIMEOUT_DEFAULT:
                continue
            names = ", ".join(repr(m.group.name) for m in fallbacks)
            how = "unset: Ray's default" if value is None else "set to"
            yield self.finding(
                cluster.doc,
                spot.group.path,
                f"{spot.group.label}: during a Spot stockout its work reaches the on-demand "
                f"group {names} only after Ray gives up on the Pending Pod, after {seconds} s "
                f"({ALLOCATE_TIMEOUT_ENV} {how} {seconds})",
            )


@register
class FallbackNeverChosen(Rule):
    """A Spot group's lower-priority on-demand groups cannot take its work.

    What it does
        For a Spot-only worker group, compares the Ray resources each lower-priority on-demand
        group offers (as Ray's autoscaler reads them: the group's `resources`, then
        `rayStartParams`, then the Ray container's limits and requests) and its Ray `labels`
        with the Spot group's. Reports when no such group offers at least the same resources
        and labels with `maxReplicas` above 0.

    Why is this bad?
        Ray's autoscaler launches a group for work its nodes can run. Work sized for the Spot
        group's nodes (or asking for its labels) does not fit a smaller fallback, so during a
        stockout it waits for Spot however the fallback is configured.

    Example
        workerGroupSpecs:
        - {groupName: gpu-spot, priority: 10, ...}     # nvidia.com/gpu: 1
        - {groupName: cpu-ondemand, priority: 0, ...}  # no GPU

    Use instead
        workerGroupSpecs:
        - {groupName: gpu-spot, priority: 10, ...}
        - {groupName: gpu-ondemand, priority: 0, ...}  # the same Pod, on on-demand nodes
    """

    code = "SR405"
    name = "fallback-never-chosen"
    severity = Severity.WARNING
    fix = (
        "Give the on-demand fallback the Spot group's Pod (resources, rayStartParams, labels) "
        "and maxReplicas > 0."
    )

    def check(self, ctx):
        for cluster, spot, fallbacks in _spot_groups(ctx):
            if not fallbacks:
                continue
            try:
                need = ray_resources(spot.group.spec)
            except Unknown:
                continue
            labels = ray_labels(spot.group.spec)
            reasons = []
            for market in fallbacks:
                spec = market.group.spec
                try:
                    offered = ray_resources(spec)
                except Unknown:
                    break  # cannot tell: say nothing
                why = shortfall(offered, need)
                theirs = ray_labels(spec)
                missing = {k: v for k, v in labels.items() if theirs.get(k) != v}
                if missing:
                    why.append("no Ray label " + ", ".join(f"{k}={v}" for k, v in missing.items()))
                if as_int(spec.get("maxReplicas")) == 0:
                    why.append("maxReplicas 0")
                if not why:
                    break
                reasons.append(f"{market.group.name!r}: {'; '.join(why)}")
            else:
                yield self.finding(
                    cluster.doc,
                    spot.group.path,
                    f"{spot.group.label}: no lower-priority on-demand group can take its work "
                    f"during a stockout ({' / '.join(reasons)})",
                )
