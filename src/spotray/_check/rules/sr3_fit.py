"""SR3xx: do the Pods fit the nodes they can land on, and do they fill them?"""

from __future__ import annotations

from ..._plan import Resources, filling_pod, packing
from ..._quantity import cpu_millis, memory_bytes
from .._context import GPU, groups, pod_requests, quantity, ray_container, requests_of
from .._finding import Severity
from .._registry import Rule, register

IDLE_THRESHOLD = 0.25  # SR304's policy; the idle share itself is the plan's (`Packing.idle`)


def _sized_groups(ctx):
    """(cluster, name, path, container path, requests, pools it can land on)."""
    for cluster, name, group, path in groups(ctx):
        found = ray_container(group)
        if found is None:
            continue
        index, container = found
        req = pod_requests(group)  # every container's, and the sidecars'
        cpath = (*path, "template", "spec", "containers", index)
        pools = ctx.placement(cluster, group, path).pools if ctx.pools else []
        yield cluster, name, path, cpath, container, req, pools


@register
class PodFitsNoNode(Rule):
    """A Pod larger than what one node of its pool offers.

    What it does
        Compares the Ray container's requests with the node's allocatable resources less the
        system DaemonSets (the same model as `spotray explain`), for every pool the group can
        land on.

    Why is this bad?
        The Pod stays Pending forever (kuberay#1108): no node of that pool can ever hold it,
        however far the autoscaler scales.

    Example
        requests `memory: 8G` on e2-standard-2 (8 GiB machine, ~5.5 GiB for Pods).

    Use instead
        Request at most what `spotray explain` shows under "for Ray Pods", or pick a larger machine.
    """

    code = "SR301"
    name = "pod-fits-no-node"
    severity = Severity.ERROR
    fix = "Lower the requests to fit the node, or use a larger machine type."

    def check(self, ctx):
        for cluster, name, _path, cpath, _c, req, pools in _sized_groups(ctx):
            if req is None:
                continue
            for pool in pools:
                avail = pool.available
                if avail is None:
                    continue
                packed = packing(avail, req, pool.pods_limit)
                count, limited = packed.pods, packed.limited_by
                if count == 0 and not (req.gpus and not avail.gpus):  # no GPUs at all: SR302
                    yield self.finding(
                        cluster.doc,
                        (*cpath, "resources"),
                        f"{cluster.kind} {cluster.name!r} group {name!r}: the Pod "
                        f"(cpu {req.cpu_millis}m, memory {req.memory_bytes // 2**20}Mi, "
                        f"{req.gpus} GPU) does not fit one {pool.machine_type} node of pool "
                        f"{pool.name!r} ({limited}: {avail.cpu_millis}m / "
                        f"{avail.memory_bytes // 2**20}Mi / {avail.gpus} GPU available)",
                    )


@register
class GpuNeedsGpuPool(Rule):
    """A Pod that requests `nvidia.com/gpu` can land on a pool without GPUs.

    What it does
        Reports a group requesting GPUs whose placement includes pools with no GPUs, or that
        matches no GPU pool at all.

    Why is this bad?
        On a pool without GPUs the Pod never schedules; if it can land on both kinds, the
        autoscaler may grow the wrong pool.

    Example
        `nvidia.com/gpu: 1` with node affinity on a CPU pool.

    Use instead
        Pin GPU groups to the GPU pool and tolerate its `nvidia.com/gpu` taint.
    """

    code = "SR302"
    name = "gpu-needs-gpu-pool"
    severity = Severity.ERROR
    fix = "Pin the group to a GPU pool (and tolerate its nvidia.com/gpu taint)."

    def check(self, ctx):
        for cluster, name, _path, cpath, _c, req, pools in _sized_groups(ctx):
            if req is None or not req.gpus or not pools:
                continue
            without = [p.name for p in pools if p.machine_type and p.gpus == 0]
            if without:
                yield self.finding(
                    cluster.doc,
                    (*cpath, "resources"),
                    f"{cluster.kind} {cluster.name!r} group {name!r} requests {req.gpus} GPU(s) "
                    f"but can land on pool(s) without GPUs: {', '.join(without)}",
                )


@register
class LimitsBelowRequests(Rule):
    """A container whose limit is lower than its request.

    What it does
        Compares `resources.limits` with `resources.requests` for CPU, memory and GPUs.

    Why is this bad?
        The API server rejects such a Pod: KubeRay creates it and the Pod never appears.

    Example
        requests: {cpu: "2"}, limits: {cpu: "1"}

    Use instead
        Limits at least as large as requests (for Ray, equal is best: Ray sizes itself from them).
    """

    code = "SR303"
    name = "limits-below-requests"
    severity = Severity.ERROR
    fix = "Raise the limit to at least the request (equal is best for Ray)."

    def check(self, ctx):
        for cluster, name, _path, cpath, container, _req, _pools in _sized_groups(ctx):
            res = container.get("resources")
            if not isinstance(res, dict):
                continue
            req, lim = res.get("requests"), res.get("limits")
            for key, parse in (("cpu", cpu_millis), ("memory", memory_bytes), (GPU, int)):
                r, li = quantity(req, key, parse), quantity(lim, key, parse)
                if r is not None and li is not None and li < r:
                    yield self.finding(
                        cluster.doc,
                        (*cpath, "resources", "limits", key),
                        f"{cluster.kind} {cluster.name!r} group {name!r}: {key} limit "
                        f"{lim[key]!r} is below its request {req[key]!r}",
                    )


@register
class NodeMostlyIdle(Rule):
    """Nodes that stay more than 25% idle when packed with the group's Pods.

    What it does
        For each pool the group can land on, computes how many Pods fit on one node (counting
        every container of the Pod and its sidecars) and how much of what the node offers Ray
        stays unused (by the scarcer of CPU and memory); above 25% it reports the Pod (or Ray
        container) size that would fill the node with the same number of Pods. On GPU nodes it
        also reports more than 25% of the GPUs left idle (a node with 2 L4s running one 1-GPU
        Pod).

    Why is this bad?
        You pay for the whole VM. The seed article's 1-CPU Pods on e2-standard-2 nodes leave
        more than a third of each node idle.

    Example
        requests cpu "1", memory 4G on e2-standard-2 (1615m / 5.5Gi available for Ray).

    Use instead
        The suggested size, e.g. cpu 1610m and memory 5632Mi for one Pod per e2-standard-2.
    """

    code = "SR304"
    name = "node-mostly-idle"
    severity = Severity.WARNING
    fix = "Size the Pod to fill the node (see the suggested size), or pick a smaller machine."

    def check(self, ctx):
        for cluster, name, _path, cpath, container, req, pools in _sized_groups(ctx):
            if req is None or not req.cpu_millis or not req.memory_bytes:
                continue
            others = req - (requests_of(container) or req)  # the other containers, sidecars
            for pool in pools:
                avail = pool.available
                if avail is None or avail.cpu_millis <= 0 or avail.memory_bytes <= 0:
                    continue
                packed = packing(avail, req, pool.pods_limit)
                if packed.pods == 0:
                    continue
                where = (
                    f"{cluster.kind} {cluster.name!r} group {name!r}: {packed.pods} Pod(s) per "
                    f"{pool.machine_type} node of pool {pool.name!r}"
                )
                if packed.idle > IDLE_THRESHOLD:
                    if others.cpu_millis or others.memory_bytes:
                        n = packed.pods
                        rest = Resources(
                            avail.cpu_millis - n * others.cpu_millis,
                            avail.memory_bytes - n * others.memory_bytes,
                        )
                        cpu, mem = filling_pod(rest, n)
                        size = f"a Ray container of cpu {cpu}, memory {mem} (beside the others)"
                    else:
                        cpu, mem = packed.fill
                        size = f"a Pod of cpu {cpu}, memory {mem}"
                    yield self.finding(
                        cluster.doc,
                        (*cpath, "resources"),
                        f"{where} leave {packed.idle:.0%} of it idle ({packed.limited_by} "
                        f"runs out first); {size} would fill it",
                    )
                elif packed.gpus_idle > IDLE_THRESHOLD:
                    used = packed.pods * req.gpus
                    advice = (
                        f"request {avail.gpus // packed.pods} GPU(s) per Pod, or pick a machine "
                        "type with fewer GPUs"
                        if req.gpus
                        else "the Pods request no nvidia.com/gpu: use a pool without GPUs"
                    )
                    yield self.finding(
                        cluster.doc,
                        (*cpath, "resources"),
                        f"{where} use {used} of its {avail.gpus} GPU(s): {avail.gpus - used} "
                        f"stay idle ({packed.limited_by} runs out first); {advice}",
                    )
