"""Documents → findings: `spotray check` as a Python API.

docs = read_paths(["raycluster.yaml", "node-pools.tf"])
findings = run_checks(docs)
"""

from __future__ import annotations

from . import rules as _rules  # noqa: F401 - registers every rule
from ._context import Context
from ._documents import ClusterDoc, Documents, Pool, parse_pool_flag, read_yaml
from ._finding import Finding, Severity
from ._inputs import read_paths
from ._registry import RULES, Rule, select_rules
from ._terraform import read_terraform


def run_checks(
    docs: Documents, *, select: list[str] | None = None, ignore: list[str] | None = None
) -> list[Finding]:
    """Run the selected rules over the documents; findings sorted by file, line, code."""
    ctx = Context(docs)
    findings: list[Finding] = []
    for rule in select_rules(select, ignore):
        findings.extend(rule().check(ctx))
    return sorted(findings, key=Finding.sort_key)


def check_spec(spec, *, select=None, ignore=None, gates=None) -> list[Finding]:
    """Render a spec in memory and check the rendered documents, like hand-written ones
    (`gates`: the KubeRay operator's feature gates, default 1.7's)."""
    _, docs = spec_documents(spec)
    if gates is not None:
        docs.gates = gates
    return run_checks(docs, select=select, ignore=ignore)


def spec_documents(spec) -> tuple:
    """(plan, Documents) of a spec: its rendered files read back as `check` reads any files,
    with the plan's numbers for what no document says (DaemonSet overrides, existing pools)."""
    from .._api import plan as resolve
    from .._render import render

    plan = resolve(spec)
    rendered = render(plan)
    docs = Documents()
    read_yaml(rendered.raycluster, "raycluster.yaml", docs)
    read_terraform(rendered.terraform, "node-pools.tf", docs)
    for pool in plan.pools:  # existing pools the spec names: known from the plan, not rendered
        if not pool.managed:
            docs.pools.append(
                Pool(
                    name=pool.name,
                    file="spec",
                    line=None,
                    machine_type=pool.machine.name,
                    spot=pool.spot,
                    taints=None,
                    zones=pool.zones,
                    region=pool.region,
                )
            )
    planned = {pool.name: pool for pool in plan.pools}
    for pool in docs.pools:  # what no document says (DaemonSet overrides): the plan's numbers
        if pool.name in planned:
            pool.daemonsets = planned[pool.name].daemonsets
            pool.max_pods = pool.max_pods or planned[pool.name].max_pods
    return plan, docs


__all__ = [
    "RULES",
    "ClusterDoc",
    "Documents",
    "Finding",
    "Pool",
    "Rule",
    "Severity",
    "check_spec",
    "parse_pool_flag",
    "read_paths",
    "run_checks",
    "spec_documents",
]
