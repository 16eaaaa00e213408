"""How the local cluster and a run's report look in a terminal (rich tables)."""

from __future__ import annotations

import re
from collections import Counter

from rich.table import Table

from .._plan import format_usd
from .._spot._report import Report

STATES = ("provisioning", "running", "stopping", "terminated")


def instances_table(instances: list[dict], title: str = "nodes") -> Table:
    """Nodes by group and state, with how many were preempted."""
    table = Table(title=title)
    table.add_column("group", no_wrap=True)
    table.add_column("market", no_wrap=True)
    for state in STATES:
        table.add_column(state, justify="right", no_wrap=True)
    table.add_column("preempted", justify="right", no_wrap=True)
    groups: dict[str, list[dict]] = {}
    for inst in instances:
        groups.setdefault(inst["group"], []).append(inst)
    for name in sorted(groups, key=lambda g: (g != "head", g)):
        mine = groups[name]
        counts = Counter(i["state"] for i in mine)
        market = "head" if name == "head" else ("spot" if mine[0]["spot"] else "on-demand")
        table.add_row(
            name,
            market,
            *(str(counts.get(s, 0)) for s in STATES),
            str(sum(1 for i in mine if i["noticed_at"] is not None)),
        )
    return table


ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Lines a Ray driver prints on behalf of Ray's own processes, e.g. "(raylet) [state-dump] ...",
# "(autoscaler +3s) Adding 1 node(s) ...", "(gcs_server) ..."; a task's own lines read
# "(work pid=123) ...".
# Only tasks and actors carry "pid=", so a task named `monitor` keeps its lines.
RAY_INTERNAL = re.compile(
    r"^\((raylet|autoscaler|gcs_server|monitor|dashboard)\b(?![^)]*pid=)[^)]*\)"
)


def job_output(text: str, *, tail: int = 2000) -> str:
    """What a job printed, without the lines Ray prints for its own processes (the full log
    stays in the state directory), and at most `tail` characters of it."""
    kept = [
        line for line in text.splitlines() if not RAY_INTERNAL.match(ANSI.sub("", line).lstrip())
    ]
    return "\n".join(kept).rstrip()[-tail:]


def report_tables(report: Report) -> list[Table]:
    data = report.to_json()
    groups = Table(title=f"run on local cluster {report.cluster!r}")
    groups.add_column("group", no_wrap=True)
    groups.add_column("market", no_wrap=True)
    for column in ("nodes", "preempted", "replaced", "node-s", "cost", "on-demand"):
        groups.add_column(column, justify="right", no_wrap=True)
    for g in report.groups:
        groups.add_row(
            g.name,
            "spot" if g.spot else "on-demand",
            str(g.launched),
            str(g.preempted),
            str(g.replaced),
            f"{g.node_seconds:.0f}",
            format_usd(g.usd_as_run),
            format_usd(g.usd_on_demand),
        )
    summary = Table(show_header=False, title="summary")
    summary.add_column("what")
    summary.add_column("value", justify="right")
    goodput = report.goodput
    causes = ", ".join(f"{k} {v}" for k, v in sorted(report.failed_by_cause.items())) or "none"
    rows = [
        (
            "job exit code",
            "interrupted (Ctrl-C or SIGTERM)" if report.interrupted else str(report.exit_code),
        ),
        ("makespan", f"{report.makespan_seconds:.1f} s"),
        ("tasks / attempts", f"{report.tasks} / {report.task_attempts}"),
        ("failed attempts (cause)", f"{report.failed_attempts} ({causes})"),
        (
            "lost with their node: Ray says",
            ", ".join(f"{k} {v}" for k, v in sorted(report.node_deaths_by_ray.items())) or "-",
        ),
        ("retried attempts", str(report.retried_attempts)),
        (
            "task-seconds counted / lost",
            f"{report.task_seconds_ok:.1f} / {report.task_seconds_lost:.1f}",
        ),
        ("goodput", "n/a" if goodput is None else f"{goodput:.1%}"),
        ("cost on GKE as run", format_usd(data["usd_as_run"])),
        ("cost on GKE all on-demand", format_usd(data["usd_on_demand"])),
    ]
    for st in report.stockouts:
        rows.append(
            (
                f"{st.group} stocked out {st.stocked_out_seconds:.0f} s",
                f"{st.fallback_launched} {st.fallback} Pod(s), {st.fallback_node_seconds:.0f} "
                f"node-s on-demand: {format_usd(st.usd_fallback)} "
                f"(on Spot {format_usd(st.usd_at_spot)})",
            )
        )
    if report.price_source:
        rows.append(("prices", _price_note(report.price_source)))
    for row in rows:
        summary.add_row(*row)
    return [groups, summary]


def _price_note(source: dict) -> str:
    date = source.get("generated") or source.get("date") or "?"
    return f"{source.get('name', 'list prices')} ({date})"
