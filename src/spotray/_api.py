"""The Python API: the same verbs as the CLI (`load_spec`, `plan`, `render`)."""

from __future__ import annotations

from ._plan import Plan
from ._plan._resolve import resolve_plan
from ._render import Rendered
from ._render import render as _render_plan
from ._spec import Spec


def plan(spec: Spec) -> Plan:
    """Resolve a spec into a `Plan`: pools, allocatable, pods per node, taints, prices.

    Raises:
        SpecError: every problem that needs facts to be seen (unknown machine type or GPU, a
            GPU the machine cannot take, a Pod that fits no node), located in the spec.
    """
    return resolve_plan(spec)


def render(spec_or_plan: Spec | Plan, *, source: str | None = None) -> Rendered:
    """Render `node-pools.tf` and `raycluster.yaml` in memory.

    Usage::

        import spotray
        files = spotray.render(spotray.load_spec("examples/seed.yaml"))
        files.write("out/")          # atomic: all files or none
        print(files.raycluster)
    """
    if isinstance(spec_or_plan, Spec):
        doc = spec_or_plan._source
        source = source or (doc.file if doc is not None else "spec")
        spec_or_plan = resolve_plan(spec_or_plan)
    return _render_plan(spec_or_plan, source=source or "spec")


def in_region(spec: Spec, region: str) -> Spec:
    """The spec with its cluster in another region (that region's zones and prices)."""
    gcp = spec.gcp.model_copy(update={"region": region, "zones": None})
    moved = spec.model_copy(update={"gcp": gcp})
    moved._source = spec._source
    return moved


def cost(spec_or_plan: Spec | Plan):
    """What the cluster costs per hour, per pool and in total, at min and max scale, Spot
    against the same machines on-demand, and per useful vCPU-hour and GiB-hour
    (`spotray._cost.ClusterCost`)."""
    from ._cost import cluster_cost

    if isinstance(spec_or_plan, Spec):
        spec_or_plan = resolve_plan(spec_or_plan)
    return cluster_cost(spec_or_plan)


def advise(spec: Spec, *, fill: bool = False, top: int = 5, regions: tuple[str, ...] = ()):
    """For each worker group, the machine types ranked by USD per useful vCPU-hour at the
    group's market (`spotray._advise.GroupAdvice`); `fill` prices each machine with the
    group's Pods grown to fill its nodes; `regions` ranks those regions' machines too."""
    from ._advise import advise as _advise

    return _advise(spec, resolve_plan(spec), fill=fill, top=top, regions=tuple(regions))


def simulate(
    spec: Spec,
    workload: str,
    *,
    runs: int = 1,
    strategies: tuple[str, ...] = ("as-planned",),
    seed: int = 0,
    fallback_minutes: float = 10.0,
):
    """Simulate the spec's cluster running the workload file `workload` (docs/simulate.md):
    per strategy, a `Summary` (p50/p95/p99 of makespan and cost, preemptions, redone work,
    goodput) and every run's `Result`."""
    from ._sim._runs import monte_carlo
    from ._sim._workload import load_workload

    resolved = resolve_plan(spec)
    spot = {g.name for g in resolved.workers if g.pool.spot}
    wl = load_workload(workload, spot, {g.name for g in resolved.workers})
    return monte_carlo(
        resolved,
        wl,
        strategies=list(strategies),
        runs=runs,
        seed=seed,
        fallback_minutes=fallback_minutes,
    )
