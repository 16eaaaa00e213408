"""SR6xx: the Terraform `google_container_node_pool` resources themselves."""

from __future__ import annotations

from ..._plan import ZONES, gpu_problem
from ..._tfeval import UNKNOWN
from .._context import terraform_pools
from .._finding import Severity
from .._registry import Rule, register
from .._terraform import PROVIDER_EFFECTS
from .._terraform import first_block as _first


def _at(pool, attribute: str) -> tuple[str, int | None]:
    return (pool.file, pool.lines.get(attribute, pool.line))


@register
class NodeLocationsNotZones(Rule):
    """`node_locations` that is not a list of zones of the pool's region.

    What it does
        Checks that `node_locations` is a list (a set) of zone names, each in the pool's
        `location` region.

    Why is this bad?
        The provider wants a set of zones: a string such as `"us-central1"` (the seed article's)
        fails at plan time, and a zone of another region fails at apply time.

    Example
        node_locations = "us-central1"

    Use instead
        node_locations = ["us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"]
    """

    code = "SR601"
    name = "node-locations-not-zones"
    severity = Severity.ERROR
    fix = "Give node_locations as a list of zones of the pool's region."

    def check(self, ctx):
        for pool in terraform_pools(ctx):
            value = pool.body.get("node_locations")
            if value is None or value is UNKNOWN:
                continue
            where = _at(pool, "node_locations")
            if not isinstance(value, list):
                yield self.finding(
                    where,
                    (),
                    f"node pool {pool.name!r}: node_locations is {value!r}, not a list of zones"
                    + (
                        f" (zones of {pool.region}: {', '.join(ZONES[pool.region])})"
                        if pool.region in ZONES
                        else ""
                    ),
                )
                continue
            known = ZONES.get(pool.region or "")
            for zone in value:
                if zone is UNKNOWN or pool.region is None:
                    continue  # unknown: nothing to compare with
                bad = known is not None and zone not in known
                if bad or not str(zone).startswith(f"{pool.region}-"):
                    yield self.finding(
                        where,
                        (),
                        f"node pool {pool.name!r}: {zone!r} is not a zone of {pool.region}",
                    )


@register
class TaintEffectSpelling(Rule):
    """A node-pool taint effect in Kubernetes spelling (or misspelt).

    What it does
        Checks that every `taint.effect` is `NO_SCHEDULE`, `PREFER_NO_SCHEDULE` or `NO_EXECUTE`.

    Why is this bad?
        The provider takes the GKE API spelling; `NoSchedule` is rejected at plan time.

    Example
        taint { key = "dedicated", value = "ray", effect = "NoSchedule" }

    Use instead
        effect = "NO_SCHEDULE"
    """

    code = "SR602"
    name = "taint-effect-spelling"
    severity = Severity.ERROR
    fix = "Use NO_SCHEDULE, PREFER_NO_SCHEDULE or NO_EXECUTE."

    def check(self, ctx):
        for pool in terraform_pools(ctx):
            taints = _first(pool.body.get("node_config")).get("taint", [])
            for taint in taints if isinstance(taints, list) else []:
                effect = taint.get("effect") if isinstance(taint, dict) else None
                if effect is UNKNOWN or effect in PROVIDER_EFFECTS:
                    continue
                yield self.finding(
                    _at(pool, "taint"),
                    (),
                    f"node pool {pool.name!r}: taint effect {effect!r} is not one of "
                    f"{', '.join(PROVIDER_EFFECTS)}",
                )


@register
class AutoscalingInvalid(Rule):
    """Autoscaling settings the provider rejects.

    What it does
        Checks `autoscaling`: `location_policy` is `BALANCED` or `ANY`; per-zone
        (`min/max_node_count`) and total (`total_min/total_max_node_count`) bounds are not mixed;
        every minimum is at most its maximum.

    Why is this bad?
        Terraform fails at plan or apply time, or the pool never scales as intended.

    Example
        autoscaling { min_node_count = 5, max_node_count = 1, total_max_node_count = 10 }

    Use instead
        autoscaling { total_min_node_count = 0, total_max_node_count = 10, location_policy = "ANY" }
    """

    code = "SR603"
    name = "autoscaling-invalid"
    severity = Severity.ERROR
    fix = "Use one style of bounds, min <= max, and location_policy BALANCED or ANY."

    def check(self, ctx):
        for pool in terraform_pools(ctx):
            scaling = _first(pool.body.get("autoscaling"))
            if not scaling:
                continue
            where = _at(pool, "autoscaling")
            policy = scaling.get("location_policy")
            if policy not in (None, UNKNOWN, "BALANCED", "ANY"):
                yield self.finding(
                    where,
                    (),
                    f"node pool {pool.name!r}: location_policy {policy!r} is not BALANCED or ANY",
                )
            zone_style = {"min_node_count", "max_node_count"} & scaling.keys()
            total_style = {"total_min_node_count", "total_max_node_count"} & scaling.keys()
            if zone_style and total_style:
                yield self.finding(
                    where,
                    (),
                    f"node pool {pool.name!r}: per-zone and total "
                    "autoscaling bounds are mutually exclusive",
                )
            for low, high in (
                ("min_node_count", "max_node_count"),
                ("total_min_node_count", "total_max_node_count"),
            ):
                lo, hi = scaling.get(low), scaling.get(high)
                if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
                    yield self.finding(
                        where,
                        (),
                        f"node pool {pool.name!r}: {low} {lo} is greater than {high} {hi}",
                    )


@register
class AcceleratorInvalid(Rule):
    """A `guest_accelerator` the machine type cannot take.

    What it does
        Checks the accelerator type and count against the machine family (T4/V100/P4/P100 on
        N1 only, with allowed counts and vCPU limits; L4 only with G2; A100 only with A2).
        `count = 0` means no GPU and is fine.

    Why is this bad?
        Node creation fails, and the autoscaler keeps retrying.

    Example
        machine_type = "e2-standard-4" with guest_accelerator { type = "nvidia-tesla-t4", count = 1 }

    Use instead
        machine_type = "n1-standard-4" for a T4, or a g2-standard machine for an L4.
    """

    code = "SR604"
    name = "accelerator-invalid"
    severity = Severity.ERROR
    fix = "Pick a machine family that takes this GPU, in an allowed count."

    def check(self, ctx):
        for pool in terraform_pools(ctx):
            machine = pool.machine
            if machine is None or not pool.gpu_type or not pool.gpu_count:
                continue
            problem = gpu_problem(machine, pool.gpu_type, pool.gpu_count)
            if problem:
                yield self.finding(
                    _at(pool, "guest_accelerator"), (), f"node pool {pool.name!r}: {problem[1]}"
                )


@register
class DiskTooSmall(Rule):
    """A boot disk smaller than 10 GB.

    What it does
        Checks `node_config.disk_size_gb >= 10`.

    Why is this bad?
        The API rejects it; and Ray images alone are several GB.

    Example
        disk_size_gb = 8

    Use instead
        disk_size_gb = 100
    """

    code = "SR605"
    name = "disk-too-small"
    severity = Severity.ERROR
    fix = "Use disk_size_gb of at least 10 (100 for Ray images is comfortable)."

    def check(self, ctx):
        for pool in terraform_pools(ctx):
            size = _first(pool.body.get("node_config")).get("disk_size_gb")
            try:
                value = float(size)
            except (TypeError, ValueError):
                continue
            if value < 10:
                yield self.finding(
                    _at(pool, "disk_size_gb"),
                    (),
                    f"node pool {pool.name!r}: disk_size_gb {size} is below 10",
                )


@register
class SpotPoolUntainted(Rule):
    """A Spot node pool without a NoSchedule taint.

    What it does
        Reports Spot (or preemptible) pools with no `NO_SCHEDULE`/`NO_EXECUTE` taint.

    Why is this bad?
        On GKE Standard, Spot nodes are labelled but not tainted: any Pod without node
        affinity, including system workloads and Ray heads, can land there and be preempted.

    Example
        node_config { spot = true }   # no taint

    Use instead
        taint { key = "dedicated", value = "<pool>", effect = "NO_SCHEDULE" } and a matching
        toleration on the Ray worker group.
    """

    code = "SR606"
    name = "spot-pool-untainted"
    severity = Severity.WARNING
    fix = "Add a NO_SCHEDULE taint to the Spot pool and tolerate it in its worker group."

    def check(self, ctx):
        for pool in terraform_pools(ctx):
            if (
                pool.spot
                and pool.node_taints is not None
                and not any(t.effect in ("NoSchedule", "NoExecute") for t in pool.node_taints)
            ):
                yield self.finding(
                    _at(pool, "node_config"),
                    (),
                    f"node pool {pool.name!r} is Spot but has no NoSchedule taint",
                )
