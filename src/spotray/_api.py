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
