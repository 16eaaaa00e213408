"""SR2xx: where each group's Pods can land, from node affinity, nodeSelector and tolerations."""

from __future__ import annotations

from .._context import groups, pod_spec
from .._finding import Severity
from .._registry import Rule, register
from .._scheduling import SPOT_SELECTORS, required_terms, selects_spot


def _names(pools) -> str:
    return ", ".join(repr(p.name) for p in pools)


def _groups_with_pools(ctx):
    if not ctx.pools:
        return
    for cluster, name, group, path in groups(ctx):
        if name == "head" and not pod_spec(group):
            continue  # no template at all: SR202 reports the head, SR201 would repeat it
        yield cluster, name, group, path, ctx.placement(cluster, group, path)


@register
class LandsNowhere(Rule):
    """A group whose Pods can land on no node pool.

    What it does
        Evaluates the group's required node affinity, nodeSelector and tolerations against the
        labels and taints of every given node pool (Kubernetes semantics) and reports a group
        that matches none.

    Why is this bad?
        Its Pods stay Pending forever: the cluster autoscaler only scales pools whose nodes the
        Pod could use.

    Example
        nodeAffinity requires `cloud.google.com/gke-nodepool In [small-workers]` but the pool is
        named `small-worker`; or the pool's `dedicated=small-worker:NoSchedule` taint is not
        tolerated.

    Use instead
        Match the pool's name and labels exactly and tolerate its taints.
    """

    code = "SR201"
    name = "group-lands-nowhere"
    severity = Severity.ERROR
    fix = "Make the group's node affinity and tolerations match one pool's labels and taints."

    def check(self, ctx):
        for cluster, name, _group, path, placement in _groups_with_pools(ctx):
            if placement.pools or placement.unknown:
                continue
            why = "; ".join(
                f"{pool}: {reasons[0]}" for pool, reasons in placement.rejected.items() if reasons
            )
            yield self.finding(
                cluster.doc,
                path,
                f"{cluster.kind} {cluster.name!r} group {name!r}: its Pods can land on no node "
                f"pool ({why})",
            )


def targets_spot(spec: dict) -> bool:
    """A worker Pod spec meant for Spot: it selects Spot nodes or tolerates GKE's Spot taint."""
    tolerations = spec.get("tolerations")
    tolerated = any(
        isinstance(t, dict) and t.get("key") in SPOT_SELECTORS
        for t in (tolerations if isinstance(tolerations, list) else [])
    )
    return tolerated or selects_spot(spec)


@register
class HeadCanLandOnSpot(Rule):
    """A head Pod that can land on a Spot node.

    What it does
        An error when the head explicitly selects Spot (or preemptible) nodes, or when, among
        the given node pools, it can be scheduled on a Spot pool. Without pools: a warning when
        the head has no placement at all while worker groups of the same cluster target Spot
        (then nothing keeps the head off the Spot nodes they bring); otherwise silent, since
        nothing says Spot capacity is in sight.

    Why is this bad?
        The head runs the GCS, the autoscaler and usually the driver: when its node is
        preempted, every running job and the cluster's state are lost.

    Example
        headGroupSpec.template.spec.nodeSelector: {cloud.google.com/gke-spot: "true"}

    Use instead
        Pin the head to an on-demand pool: node affinity `cloud.google.com/gke-nodepool In [ray-head]`
        and `cloud.google.com/gke-spot DoesNotExist`.
    """

    code = "SR202"
    name = "head-can-land-on-spot"
    severity = Severity.ERROR
    fix = "Pin the head to an on-demand pool with node affinity (gke-spot DoesNotExist)."

    def check(self, ctx):
        for cluster, name, group, path in groups(ctx):
            if name != "head":
                continue
            spec = pod_spec(group)
            where = f"{cluster.kind} {cluster.name!r}"
            if selects_spot(spec):
                yield self.finding(cluster.doc, path, f"{where}: the head selects Spot nodes")
                continue
            if ctx.pools:
                spot = [p for p in ctx.placement(cluster, group, path).pools if p.spot]
                if spot:
                    yield self.finding(
                        cluster.doc,
                        path,
                        f"{where}: the head can land on Spot pool(s) {_names(spot)}",
                    )
                continue
            affinity = spec.get("affinity", {}) if isinstance(spec.get("affinity"), dict) else {}
            placed = spec.get("nodeSelector") or affinity.get("nodeAffinity")
            workers = [g for c, n, g, _ in groups(ctx, workers=True, cluster=cluster)]
            if not placed and any(targets_spot(pod_spec(g)) for g in workers):
                yield self.finding(
                    cluster.doc,
                    path,
                    f"{where}: the head has no placement (no node affinity or nodeSelector) "
                    "while worker groups target Spot, so nothing keeps it off Spot nodes",
                    severity=Severity.WARNING,
                )


@register
class SpotGroupOnOnDemand(Rule):
    """A worker group meant for Spot that can also land on on-demand pools.

    What it does
        Reports a worker group that can land on at least one Spot pool and at least one
        on-demand pool.

    Why is this bad?
        The scheduler may put it on the on-demand pool, paying 2-10x the price, or mix markets
        so that cost and preemption behaviour are unpredictable.

    Example
        A toleration `operator: Exists` with no key, and no `cloud.google.com/gke-spot` affinity.

    Use instead
        Require `cloud.google.com/gke-spot In ["true"]` (and tolerate only the Spot pool's taint);
        model an on-demand fallback as its own, lower-priority group.
    """

    code = "SR203"
    name = "spot-group-on-on-demand"
    severity = Severity.WARNING
    fix = 'Add node affinity cloud.google.com/gke-spot In ["true"] to the group.'

    def check(self, ctx):
        for cluster, name, _group, path, placement in _groups_with_pools(ctx):
            if name == "head":
                continue
            spot = [p for p in placement.pools if p.spot]
            on_demand = [p for p in placement.pools if p.spot is False]
            if spot and on_demand:
                yield self.finding(
                    cluster.doc,
                    path,
                    f"{cluster.kind} {cluster.name!r} group {name!r} can land on Spot pool(s) "
                    f"{_names(spot)} and on on-demand pool(s) {_names(on_demand)}",
                )


@register
class SeveralMachineTypes(Rule):
    """A group whose Pods can land on pools of different machine types.

    What it does
        Reports a group that matches several pools whose machine types differ.

    Why is this bad?
        Packing, cost and Ray's view of a node's resources then depend on which pool the
        autoscaler happens to grow: the same group gets different sizes of headroom.

    Example
        node affinity on `cloud.google.com/gke-spot In [true]` only, with two Spot pools of
        e2-standard-2 and e2-standard-8.

    Use instead
        Pin each group to one pool (`cloud.google.com/gke-nodepool In [...]`).
    """

    code = "SR204"
    name = "several-machine-types"
    severity = Severity.WARNING
    fix = "Pin the group to one pool with cloud.google.com/gke-nodepool."

    def check(self, ctx):
        for cluster, name, _group, path, placement in _groups_with_pools(ctx):
            types = sorted({p.machine_type for p in placement.pools if p.machine_type})
            if len(types) > 1:
                yield self.finding(
                    cluster.doc,
                    path,
                    f"{cluster.kind} {cluster.name!r} group {name!r} can land on pools of "
                    f"machine types {', '.join(types)}",
                )


MARKET_LABEL = "ray.io/market-type"  # Ray's node label for the capacity market (Ray >= 2.49)


def _excludes_spot(spec: dict) -> bool:
    """A placement that keeps the Pod off Spot nodes: gke-spot DoesNotExist / NotIn [true]."""
    terms = required_terms(spec)
    if not terms:
        return False

    def excludes(term) -> bool:
        exprs = term.get("matchExpressions") if isinstance(term, dict) else None
        return any(
            isinstance(e, dict)
            and e.get("key") == "cloud.google.com/gke-spot"
            and (
                e.get("operator") == "DoesNotExist"
                or (e.get("operator") == "NotIn" and "true" in (e.get("values") or []))
            )
            for e in (exprs if isinstance(exprs, list) else [])
        )

    return all(excludes(t) for t in terms)


@register
class RayLabelsContradictPlacement(Rule):
    """A group's Ray market label that says the opposite of where its Pods land.

    What it does
        Compares a worker group's `labels["ray.io/market-type"]` (the label Ray's scheduler
        and autoscaler read, and `label_selector`s in the job select on) with the group's
        placement: `spot` on a group whose Pods cannot run on Spot nodes, or `on-demand` on
        one whose Pods select Spot nodes (or, among the given pools, land only on Spot pools).

    Why is this bad?
        Work that asks for on-demand capacity (`label_selector={"ray.io/market-type":
        "on-demand"}`, to keep it safe from preemption) is scheduled on Spot nodes, or Spot-
        tolerant work never uses the Spot group; the label lies to Ray about what a node is.

    Example
        labels: {ray.io/market-type: on-demand} with nodeSelector {cloud.google.com/gke-spot:
        "true"} (KubeRay's own sample ray-cluster-label-selector.yaml, accelerator-group).

    Use instead
        A market label that matches the placement (spotray renders both from one spec).
    """

    code = "SR205"
    name = "ray-labels-contradict-placement"
    severity = Severity.WARNING
    fix = "Make ray.io/market-type match where the group's Pods land (spot or on-demand)."

    def check(self, ctx):
        for cluster, name, group, path in groups(ctx, workers=True):
            labels = group.get("labels")
            market = labels.get(MARKET_LABEL) if isinstance(labels, dict) else None
            if market not in ("spot", "on-demand"):
                continue
            spec = pod_spec(group)
            on_spot = selects_spot(spec)
            off_spot = _excludes_spot(spec)
            if ctx.pools and not (on_spot or off_spot):
                landed = ctx.placement(cluster, group, path).pools
                if landed and all(p.spot for p in landed):
                    on_spot = True
                elif landed and not any(p.spot for p in landed):
                    off_spot = True
            where = f"{cluster.kind} {cluster.name!r} group {name!r}"
            if market == "on-demand" and on_spot:
                yield self.finding(
                    cluster.doc,
                    (*path, "labels", MARKET_LABEL),
                    f"{where}: labelled {MARKET_LABEL}=on-demand but its Pods run on Spot nodes",
                )
            elif market == "spot" and off_spot:
                yield self.finding(
                    cluster.doc,
                    (*path, "labels", MARKET_LABEL),
                    f"{where}: labelled {MARKET_LABEL}=spot but its Pods cannot run on Spot nodes",
                )
