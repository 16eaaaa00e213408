"""The `spotray` command: a thin shell over the Python API, and the only place that prints.

Exit codes: 0 success, 1 findings (check), 2 bad input (spec, YAML, HCL, files).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import _bounds, _signals
from ._errors import InputError, SpecError, SpotrayError
from ._plan import format_usd

if TYPE_CHECKING:
    from ._plan import Plan

app = typer.Typer(
    name="spotray",
    help="Run Ray on GKE Spot VMs without losing work: render, explain, check, and run "
    "locally on a real Ray cluster whose Spot groups get preempted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# piped output (CI logs, `make demo | tee`) gets room for the wider tables
# Messages carry file names and values from the user: never read them as markup or emoji codes.
_plain = {"highlight": False, "soft_wrap": True, "markup": False, "emoji": False}
out = Console(width=None if sys.stdout.isatty() else 110, **_plain)
err = Console(stderr=True, **_plain)


def _error(message: object) -> None:
    err.print(Text.assemble(("error", "red"), f": {message}"))


SpecArg = Annotated[Path, typer.Argument(help="The spotray spec (YAML).", show_default=False)]


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Turn spotray's errors into one line per problem on stderr and exit code 2."""
    try:
        yield
    except SpecError as exc:
        for problem in exc.problems:
            _error(problem)
        err.print(f"{len(exc.problems)} problem(s); nothing written.")
        raise typer.Exit(exc.exit_code) from None
    except SpotrayError as exc:
        _error(exc)
        raise typer.Exit(exc.exit_code) from None


def _load_plan(spec_path: Path) -> Plan:
    from . import _api
    from ._spec import load_spec

    return _api.plan(load_spec(spec_path))


@app.command()
def render(
    spec: SpecArg,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-o", help="Directory to write the files into.")
    ] = Path("."),
    stdout: Annotated[
        bool, typer.Option("--stdout", help="Print the files instead of writing them.")
    ] = False,
) -> None:
    """Render GKE node pools (node-pools.tf) and a KubeRay RayCluster (raycluster.yaml)."""
    with _errors():
        from . import _api
        from ._spec import load_spec

        rendered = _api.render(load_spec(spec), source=str(spec))
        if stdout:
            for name, text in rendered.files.items():
                out.print(f"# ==> {name} <==")
                out.print(text, end="")
            return
        for path in rendered.write(output_dir):
            err.print(f"wrote {path}")


def _pct(x: float) -> str:
    return f"{x:.0%}"


def explain_tables(plan: Plan) -> list[Table]:
    """One table per group and its pool: what a node offers, how the Pods pack it, its price."""
    tables = []
    for g in plan.groups:
        pool = g.pool
        cpu_used, mem_used = g.used
        gpu = f" + {pool.gpu_count} x {pool.gpu_type}" if pool.gpu_type else ""
        market = "spot" if pool.spot else "on-demand"
        title = f"{g.name}: pool {pool.name}" + ("" if pool.managed else " (existing)")
        table = Table(title=title, title_justify="left", show_header=False, box=None)
        table.add_column("what", style="bold")
        table.add_column("value")
        cpu_fill, mem_fill = g.filling_pod()
        rows = [
            ("machine", f"{pool.machine.name}{gpu} ({market})"),
            ("vCPU / memory", f"{pool.machine.vcpus} / {pool.machine.memory_mib / 1024:g} GiB"),
            (
                "allocatable",
                f"{pool.allocatable.cpu_millis}m / {pool.allocatable.memory_mib:.0f}Mi",
            ),
            (
                "for Ray Pods",
                f"{pool.available.cpu_millis}m / {pool.available.memory_mib:.0f}Mi "
                f"(less system DaemonSets {pool.daemonsets.cpu_millis}m / "
                f"{pool.daemonsets.memory_mib:.0f}Mi)",
            ),
            (
                "Pod",
                f"{g.pod.cpu} CPU / {g.pod.memory}"
                + (f" / {g.pod.gpus} GPU" if g.pod.gpus else ""),
            ),
            ("pods per node", f"{g.pods_per_node} (limited by {g.limited_by})"),
            (
                "used / idle",
                f"cpu {_pct(cpu_used)}, memory {_pct(mem_used)} used; {_pct(g.packing.idle)} idle"
                + (
                    f"; GPUs {_pct(g.packing.gpu_used)} used"
                    if g.packing.gpu_used is not None
                    else ""
                ),
            ),
            ("Pod that fills a node", f"{cpu_fill} CPU / {mem_fill}"),
            (
                "nodes",
                f"{pool.max_nodes} at most, zones {', '.join(pool.zones)}"
                if pool.managed
                else "an existing pool: its size is not spotray's",
            ),
            (
                "price",
                f"{format_usd(pool.usd_per_node_hour)}/node-h, {format_usd(g.usd_per_pod_hour)}/pod-h "
                f"({market})",
            ),
        ]
        if pool.spot and pool.price.on_demand:
            rows.append(("on-demand price", f"{format_usd(pool.price.on_demand)}/node-h"))
        fallback = plan.fallback.fallback_of(g.name) if plan.fallback else None
        if fallback:
            rows.append(
                (
                    "stockout fallback",
                    f"to {fallback} after {plan.fallback.pending_timeout_seconds} s of stockout",
                )
            )
        for row in rows:
            table.add_row(*row)
        tables.append(table)
    return tables


@app.command()
def explain(spec: SpecArg) -> None:
    """Show what each pool's nodes offer, how the Ray Pods pack them, and what they cost."""
    with _errors():
        plan = _load_plan(spec)
    for table in explain_tables(plan):
        out.print(table)
        out.print()
    s = plan.shutdown
    out.print(
        f"Spot shutdown: node grace {s.node_grace_seconds}s, critical Pods {s.critical_pods_seconds}s"
        f" -> Ray Pods get {s.grace_period_seconds}s (terminationGracePeriodSeconds); Ray drains "
        f"for {s.drain_timeout_seconds}s (RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S)."
    )
    if plan.fallback:
        f = plan.fallback
        out.print(
            f"Stockouts: Ray gives up on a Pending Pod after {f.pending_timeout_seconds}s and turns "
            f"to the fallback; new work goes to Spot again {f.spot_retry_seconds}s later; a "
            f"Pending Pod no work needs is dropped after {f.pending_idle_seconds}s "
            "(autoscalerOptions.env; docs/fallback.md)."
        )
    src = plan.price_source
    out.print(
        f"'for Ray' = allocatable less system DaemonSets. Prices: {plan.region}, USD per hour, "
        f"from {src['name']} generated {src['generated']} ({src['url']})."
    )


class CostFormat(StrEnum):
    text = "text"
    json = "json"


@app.command()
def cost(
    spec: SpecArg,
    region: Annotated[
        list[str] | None,
        typer.Option(
            "--region", help="Also price the cluster in this region (repeatable), to compare."
        ),
    ] = None,
    output_format: Annotated[
        CostFormat, typer.Option("--output-format", help="text or json.")
    ] = CostFormat.text,
) -> None:
    """What the cluster costs per hour: per pool and in total at min and max scale, Spot against
    the same machines on-demand, and per useful vCPU-hour and GiB-hour (docs/cost.md)."""
    import json

    from . import _api
    from ._spec import load_spec

    with _errors():
        loaded = load_spec(spec)
        specs = [loaded] + [
            _api.in_region(loaded, r) for r in region or [] if r != loaded.gcp.region
        ]
        reports = [_api.cost(s) for s in specs]
    if output_format is CostFormat.json:
        data = [r.to_json() for r in reports]
        out.print_json(json.dumps(data[0] if len(data) == 1 else data))
        return
    for report in reports:
        out.print(_cost_table(report))
    if len(reports) > 1:
        out.print(_region_table(reports))
    src = reports[0].price_source
    out.print(
        "'useful' = what the Ray Pods on a node request (after allocatable, DaemonSets and "
        f"packing). Prices: USD per hour, list prices from {src['name']} generated "
        f"{src['generated']} ({src['url']})."
    )


def _cost_table(report) -> Table:
    table = Table(title=f"{report.cluster} in {report.region}", title_justify="left")
    for column in (
        "group",
        "machine",
        "market",
        "pods/node",
        "nodes",
        "$/node-h",
        "on-demand",
        "discount",
        "$/vCPU-h",
        "$/GiB-h",
    ):
        table.add_column(
            column, justify="left" if column in ("group", "machine", "market") else "right"
        )
    for g in report.groups:
        table.add_row(
            g.group,
            g.machine,
            "spot" if g.spot else "on-demand",
            str(g.pods_per_node),
            f"{g.min_nodes}-{g.max_nodes}",
            format_usd(g.usd_per_node_hour),
            format_usd(g.usd_per_node_hour_on_demand),
            "n/a" if g.discount is None else f"{g.discount:.0%}",
            format_usd(g.usd_per_useful_vcpu_hour),
            format_usd(g.usd_per_useful_gib_hour),
        )
    for scale in ("min", "max"):
        saving = report.saving(scale)
        table.add_row(
            f"cluster at {scale}",
            "",
            "as planned",
            "",
            "",
            format_usd(report.total(scale)),
            format_usd(report.total(scale, "on-demand")),
            "n/a" if saving is None else f"{saving:.0%}",
            "",
            "",
        )
    return table


def _region_table(reports) -> Table:
    table = Table(title="regions compared (cluster at max scale)", title_justify="left")
    for column in ("region", "$/h as planned", "$/h on-demand", "saving"):
        table.add_column(column, justify="left" if column == "region" else "right")
    for r in sorted(reports, key=lambda r: (r.total("max") is None, r.total("max") or 0)):
        saving = r.saving("max")
        table.add_row(
            r.region,
            format_usd(r.total("max")),
            format_usd(r.total("max", "on-demand")),
            "n/a" if saving is None else f"{saving:.0%}",
        )
    return table


@app.command()
def advise(
    spec: SpecArg,
    fill: Annotated[
        bool,
        typer.Option(
            "--fill", help="Price each machine with the group's Pods grown to fill its nodes."
        ),
    ] = False,
    top: Annotated[int, typer.Option("--top", help="Machine types shown per group.")] = 5,
    region: Annotated[
        list[str] | None,
        typer.Option("--region", help="Rank this region's machines too (repeatable)."),
    ] = None,
    apply: Annotated[
        Path | None,
        typer.Option(
            "--apply",
            help="Write a copy of the spec with each group's best machine type to this file.",
        ),
    ] = None,
    output_format: Annotated[
        CostFormat, typer.Option("--output-format", help="text or json.")
    ] = CostFormat.text,
) -> None:
    """Rank machine types for each worker group by USD per useful vCPU-hour, with the saving
    against the current choice and why (packing, discount, overhead)."""
    import json

    from . import _api
    from ._advise import applied
    from ._io import read_input, write_text
    from ._spec import load_spec

    with _errors():
        top = _bounds.count("--top", top, low=1, high=100)
        loaded = load_spec(spec)
        advice = _api.advise(loaded, fill=fill, top=top, regions=tuple(region or ()))
        if apply is not None:
            if apply.resolve() == Path(spec).resolve():
                raise InputError("--apply writes a copy: give another file than the spec")
            text = applied(loaded, read_input(spec, what="spec file"), advice)
            load_spec(apply, text=text)  # the copy must be a valid spec before it is written
            write_text(apply, text)
    if output_format is CostFormat.json:
        out.print_json(json.dumps([_advice_json(a) for a in advice]))
    else:
        for item in advice:
            out.print(_advice_table(item))
    if apply is not None:
        err.print(f"wrote {apply}")


def _candidate_json(item, c) -> dict:
    return {
        "machine": c.machine,
        "region": c.region,
        "pod": {"cpu": c.cpu, "memory": c.memory},
        "pods_per_node": c.cost.pods_per_node,
        "usd_per_node_hour": c.cost.usd_per_node_hour,
        "usd_per_useful_vcpu_hour": c.cost.usd_per_useful_vcpu_hour,
        "usd_per_useful_gib_hour": c.cost.usd_per_useful_gib_hour,
        "discount": c.cost.discount,
        "used": round(c.used, 4),
        "overhead": round(c.overhead, 4),
        "saving": c.saving,
        "reason": item.reason(c),
    }


def _advice_json(item) -> dict:
    return {
        "group": item.group,
        "market": item.market,
        "current": _candidate_json(item, item.current),
        "ranked": [_candidate_json(item, c) for c in item.ranked],
    }


def _advice_table(item) -> Table:
    now = item.current
    table = Table(
        title=f"{item.group} ({item.market}): now {now.machine}, "
        f"{format_usd(now.cost.usd_per_useful_vcpu_hour)}/useful vCPU-h",
        title_justify="left",
    )
    regions = len({c.region for c in item.ranked} | {now.region}) > 1
    for column in ("machine", "Pod", "pods/node", "$/node-h", "$/vCPU-h", "saving", "why"):
        table.add_column(column, justify="left" if column in ("machine", "Pod", "why") else "right")
    for c in item.ranked:
        table.add_row(
            f"{c.machine} ({c.region})" if regions else c.machine,
            f"{c.cpu} / {c.memory}",
            str(c.cost.pods_per_node),
            format_usd(c.cost.usd_per_node_hour),
            format_usd(c.cost.usd_per_useful_vcpu_hour),
            "n/a" if c.saving is None else f"{c.saving:.0%}",
            item.reason(c),
        )
    if not item.ranked:
        table.add_row("(none cheaper that fits the Pod)", "", "", "", "", "", "")
    return table


@app.command()
def simulate(
    spec: SpecArg,
    workload: Annotated[
        Path, typer.Option("--workload", help="The workload (YAML): tasks, preemptions, stockouts.")
    ],
    runs: Annotated[int, typer.Option("--runs", help="Monte Carlo runs per strategy.")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Run i uses seed + i.")] = 0,
    strategy: Annotated[
        list[str] | None,
        typer.Option(
            "--strategy",
            help="as-planned, all-on-demand, all-spot, spot-fallback, resumable, restart "
            "(repeatable; default as-planned).",
        ),
    ] = None,
    fallback_minutes: Annotated[
        float, typer.Option("--fallback-minutes", help="spot-fallback's stockout wait.")
    ] = 10.0,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write PNG plots to this directory.")
    ] = None,
    output_format: Annotated[
        CostFormat, typer.Option("--output-format", help="text or json.")
    ] = CostFormat.text,
) -> None:
    """Simulate the spec's cluster running a batch workload under Spot preemptions: makespan,
    VM-hours, cost, preemptions, redone work, goodput; percentiles over --runs (docs/simulate.md)."""
    import json

    from . import _api
    from ._sim._runs import STRATEGIES, monte_carlo
    from ._sim._runs import simulate as run_one
    from ._sim._workload import load_workload
    from ._spec import load_spec

    with _errors():
        runs = _bounds.count("--runs", runs, low=1, high=100_000)
        fallback_minutes = _bounds.finite(
            "--fallback-minutes", fallback_minutes, low=0, high=10_000
        )
        names = strategy or ["as-planned"]
        for name in names:
            if name not in STRATEGIES:
                raise InputError(f"--strategy {name!r}: one of {', '.join(STRATEGIES)}")
        plan = _api.plan(load_spec(spec))
        spot = {g.name for g in plan.workers if g.pool.spot}
        wl = load_workload(str(workload), spot, {g.name for g in plan.workers})
        if plot is not None:
            from ._sim import _plot

            _plot._pyplot()  # fail before the runs if matplotlib is missing
        with _progress(len(names) * runs, "simulating") as advance:
            summaries, results = monte_carlo(
                plan,
                wl,
                strategies=names,
                runs=runs,
                seed=seed,
                fallback_minutes=fallback_minutes,
                progress=advance,
            )
        written = []
        if plot is not None:
            from ._io import write_files
            from ._sim import _plot

            tracked = run_one(
                plan,
                wl,
                strategy_name=names[0],
                seed=seed,
                track=True,
                fallback_minutes=fallback_minutes,
            )
            written = write_files(
                {
                    plot / "vms-per-pool.png": _plot.vms_over_time(tracked),
                    plot / "cost-vs-makespan.png": _plot.cost_vs_makespan(results),
                }
            )
    traces = {group: t.to_json(wl.caps(group)) for group, t in wl.availability.items()}
    if output_format is CostFormat.json:
        doc = {"runs": runs, "seed": seed, "strategies": [s.to_json() for s in summaries]}
        if traces:
            doc["availability"] = traces
        out.print_json(json.dumps(doc))
    else:
        for group, t in traces.items():
            err.print(
                f"{group}: availability trace {t['file']}: {t['ticks']} ticks of "
                f"{t['gap_seconds']:g} s ({t['hours']:.1f} h, repeated), Spot available on "
                f"{t['available_share']:.0%} of them"
            )
        out.print(_sim_table(summaries, runs))
    for path in written:
        err.print(f"wrote {path}")


@contextlib.contextmanager
def _progress(total: int, what: str):
    """A progress bar on stderr for `total` steps; yields the function that advances it."""
    from rich.progress import Progress

    if total <= 1:
        yield lambda: None
        return
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda: bar.advance(task)


def _sim_table(summaries, runs: int) -> Table:
    title = f"{runs} run(s) per strategy" + (" (p50 / p95 / p99)" if runs > 1 else "")
    table = Table(title=title, title_justify="left")
    for column in (
        "strategy",
        "makespan h",
        "cost $",
        "on-demand $",
        "preemptions",
        "redone h",
        "goodput",
    ):
        table.add_column(column, justify="left" if column == "strategy" else "right")

    def three(values: dict, scale: float = 1.0, fmt: str = ".2f") -> str:
        if runs == 1:
            return format(values["p50"] / scale, fmt)
        return " / ".join(format(values[k] / scale, fmt) for k in ("p50", "p95", "p99"))

    for s in summaries:
        table.add_row(
            s.strategy + (f" ({s.unfinished} unfinished)" if s.unfinished else ""),
            three(s.makespan, 3600),
            three(s.usd),
            f"{s.usd_on_demand_mean:.2f}",
            f"{s.preemptions_mean:.1f}",
            f"{s.redone_hours_mean:.2f}",
            "n/a" if s.goodput_mean is None else f"{s.goodput_mean:.1%}",
        )
    return table


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


class FailOn(StrEnum):
    error = "error"
    warning = "warning"
    info = "info"


@app.command()
def check(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="RayCluster/RayJob/RayService YAML and Terraform (.tf) files."),
    ] = None,
    spec: Annotated[
        Path | None, typer.Option("--spec", help="A spotray spec: check what it renders.")
    ] = None,
    pool: Annotated[
        list[str] | None,
        typer.Option(
            "--pool",
            help="A node pool without Terraform: name=P,machine=M,spot=true,"
            "taint=k=v:NoSchedule,label=k=v,zones=a;b,max_nodes=N,gpu=T,gpus=N (repeatable).",
        ),
    ] = None,
    var_file: Annotated[
        list[Path] | None,
        typer.Option(
            "--var-file", help="Terraform variable values (.tfvars), as terraform -var-file."
        ),
    ] = None,
    var: Annotated[
        list[str] | None,
        typer.Option("--var", help="A Terraform variable, NAME=VALUE, as terraform -var."),
    ] = None,
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select", help="Only rules with these code prefixes (SR1,SR501; repeatable)."
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", help="Skip rules with these code prefixes (comma-separated)."),
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--output-format", help="text, json or sarif (2.1.0).")
    ] = OutputFormat.text,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 on findings at or above this severity.")
    ] = FailOn.error,
    autopilot: Annotated[
        bool,
        typer.Option(
            "--autopilot",
            help="The cluster is GKE Autopilot: nodes come from the Pods' compute class and "
            "Spot selection (no node pools to give).",
        ),
    ] = False,
    kuberay_feature_gates: Annotated[
        list[str] | None,
        typer.Option(
            "--kuberay-feature-gates",
            help="The KubeRay operator's feature gates, NAME=true|false,... (default: "
            "KubeRay 1.7's defaults; docs/rules.md lists them).",
        ),
    ] = None,
) -> None:
    """Lint RayCluster manifests and GKE node pools (generated or hand-written) before applying."""
    from ._check._cli import run

    code = run(
        [str(p) for p in paths or []],
        spec=str(spec) if spec is not None else None,
        pools=pool,
        var_files=[str(f) for f in var_file or []],
        variables=var,
        select=select,
        ignore=ignore,
        output_format=output_format.value,
        fail_on=fail_on.value,
        autopilot=autopilot,
        gates=kuberay_feature_gates,
    )
    if code:
        raise typer.Exit(code)


@app.command()
def rule(code: Annotated[str, typer.Argument(help="A rule code, e.g. SR304.")]) -> None:
    """Print a rule's documentation."""
    from ._check import RULES

    found = RULES.get(code.upper())
    if found is None:
        _error(f"no rule {code!r}; known: {', '.join(sorted(RULES))}")
        raise typer.Exit(2)
    out.print(
        f"{found.code} ({found.name}) [{found.severity}]\n\n{found.doc()}\n\nFix: {found.fix}",
        markup=False,
    )


# --- the local spot cluster (needs Ray: imported only here) ------------------------------

LocalFlag = Annotated[
    bool, typer.Option("--local", help="Run on this machine (the only target so far).")
]
NameOpt = Annotated[
    str | None,
    typer.Option("--name", help="The cluster (default: the only one running)."),
]


def _need_local(local: bool) -> None:
    if not local:
        raise InputError("only local clusters are supported so far: add --local")
    from ._local._cluster import require_local_extra

    require_local_extra()


class _Dead(SpotrayError):
    """A cluster whose controller died while its processes run on (exit 1)."""

    exit_code = 1


def _clusters(name: str | None) -> list[tuple[str, object, int]]:
    """(name, the running cluster or None, processes left by a dead controller) for `name`,
    or for every cluster with a state directory that is running or left processes behind."""
    from ._local._cluster import require_local_extra

    require_local_extra()
    from . import local as lc

    candidates = [name] if name else lc.names()
    running = {each: lc.find(each) for each in candidates}
    dead = [each for each, cluster in running.items() if cluster is None]
    left = {each: len(procs) for each, procs in lc.leftovers_of(dead).items()}
    return [
        (each, running[each], left.get(each, 0))
        for each in candidates
        if running[each] or left.get(each)
    ]


def _cluster(name: str | None):
    """The one running cluster (`name`, or the only one); a dead controller is an error."""
    found = _clusters(name)
    if not found:
        what = f"no local cluster {name!r} is running" if name else "no local cluster is running"
        raise InputError(f"{what} (start one with `spotray up SPEC --local`)")
    if len(found) > 1:
        names = ", ".join(n for n, _, _ in found)
        raise InputError(f"several local clusters are running ({names}): pass --name")
    each, cluster, left = found[0]
    if cluster is None:
        raise _Dead(
            f"local cluster {each!r}: controller dead, {left} process(es) left; "
            f"`spotray down --name {each}` stops them"
        )
    return cluster


def _print_env(cluster) -> None:
    out.print("  export " + " ".join(f"{k}={v}" for k, v in cluster.env.items()))
    out.print(
        "  (a driver needs all of these: Ray's token auth, and Ray's switch that keeps it on "
        "127.0.0.1, where the cluster listens)"
    )
    out.print(f"  dashboard   {cluster.dashboard_url}  (the token is its bearer credential)")


@app.command()
def up(
    spec: SpecArg,
    local: LocalFlag = False,
    scale: Annotated[
        float | None,
        typer.Option(
            help="Multiply the Pods' CPUs and memory by this, in (0, 1] (default: fit this "
            "machine)."
        ),
    ] = None,
    time_scale: Annotated[
        float, typer.Option(help="Compress the Spot shutdown window (and drain) by this factor.")
    ] = 1.0,
    provision_seconds: Annotated[
        float, typer.Option(help="Seconds a new node takes before its raylet starts.")
    ] = 2.0,
    stockout_mode: Annotated[
        str,
        typer.Option(
            help="A launch during a stockout: 'pending' (waits for capacity, as a Pod on GKE) "
            "or 'refuse' (rejected at once, as some clouds do)."
        ),
    ] = "pending",
    ray_default_timeouts: Annotated[
        bool,
        typer.Option(
            help="Leave Ray's autoscaler timeouts at Ray's defaults instead of the spec's "
            "fallback settings (a Pending Pod waits an hour: no on-demand fallback in practice)."
        ),
    ] = False,
) -> None:
    """Start a real Ray cluster on this machine, shaped like the spec's worker groups."""
    with _errors():
        _need_local(local)
        from . import local as lc

        plan = _load_plan(spec)
        # SIGTERM while starting: like Ctrl-C, `up` stops what it started, then exit 130
        with (
            _signals.as_interrupt(),
            err.status("starting the head and the groups' minimum nodes..."),
        ):
            cluster = lc.up(
                plan,
                scale=scale,
                time_scale=time_scale,
                provision_seconds=provision_seconds,
                stockout_mode=stockout_mode,
                ray_default_timeouts=ray_default_timeouts,
            )
        out.print(f"local cluster {cluster.name!r} is up")
        _print_env(cluster)
        out.print(f"  state, logs {cluster.state}")
        _print_status(cluster)


def _print_status(cluster) -> None:
    from ._local._view import instances_table

    out.print(instances_table(cluster.instances(), title=f"local cluster {cluster.name!r}"))


@app.command()
def status(name: NameOpt = None) -> None:
    """Show a local cluster's nodes by group and state."""
    with _errors():
        cluster = _cluster(name)
        _print_status(cluster)
        from ._local._cluster import ray_nodes

        alive = [n for n in ray_nodes(cluster) if n.state == "ALIVE"]
        out.print(f"Ray sees {len(alive)} alive node(s); RAY_ADDRESS={cluster.address}")


@app.command()
def preempt(
    group: Annotated[str, typer.Argument(help="A Spot worker group.")],
    count: Annotated[int, typer.Option(help="How many running nodes (at least 1).")] = 1,
    share: Annotated[
        float | None,
        typer.Option(help="A share of the group's nodes instead, in (0, 1] (mass preemption)."),
    ] = None,
    freeze: Annotated[
        bool,
        typer.Option(help="Freeze instead (SIGSTOP, no notice: a network black hole)."),
    ] = False,
    name: NameOpt = None,
) -> None:
    """Preempt Spot nodes now: notice, SIGTERM, kill at the end of the window."""
    with _errors():
        from . import _bounds

        if share is not None:
            _bounds.share("--share", share)
        else:
            _bounds.count("--count", count)
        cluster = _cluster(name)
        if freeze:
            victims = cluster.freeze(group, count=count)
        else:
            victims = cluster.preempt(group, count=count, share=share)
        out.print(f"preempting {len(victims)} node(s) of {group}: {', '.join(victims) or '-'}")


@app.command()
def down(name: NameOpt = None) -> None:
    """Stop a local cluster: every process it started, and only those (also after its
    controller died). Nothing running is not an error."""
    with _errors():
        from . import local as lc

        found = _clusters(name)
        if not found:
            out.print(f"no local cluster {name!r} is running" if name else "nothing is running")
            return
        if name is None and len(found) > 1:
            names = ", ".join(n for n, _, _ in found)
            raise InputError(f"several local clusters are running ({names}): pass --name")
        each, cluster, _ = found[0]
        stopped = cluster.down() if cluster else lc.stop_leftovers(each)
        dead = "" if cluster else " (its controller had died)"
        out.print(f"local cluster {each!r} is down{dead}; {stopped} leftover process(es) stopped")


@app.command()
def agent(
    metadata_host: Annotated[
        str | None,
        typer.Option(
            help="HOST[:PORT] of the VM's metadata server [default: $GCE_METADATA_HOST "
            "or metadata.google.internal]."
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(help="The GCS address [default: $RAY_ADDRESS, else this node's Ray]."),
    ] = None,
    node_id: Annotated[
        str | None,
        typer.Option(
            help="The Ray node to drain [default: the node of "
            "$RAY_CLOUD_INSTANCE_ID, else the one at this machine's IP]."
        ),
    ] = None,
    notice_seconds: Annotated[
        float, typer.Option(help="Seconds from the notice until the VM is stopped.")
    ] = 30.0,
    margin_seconds: Annotated[
        float, typer.Option(help="The drain deadline ends this long before the stop.")
    ] = 5.0,
) -> None:
    """Drain this VM's Ray node (reason PREEMPTION) when its metadata says it is preempted.

    Long-polls instance/preempted; retries with backoff while the metadata server or the GCS
    is down, slow or answers garbage; exits 0 once the node is drained (2: bad arguments)."""
    import logging

    from ._resume._agent import AgentConfig, AgentError, run_agent

    logging.basicConfig(level=logging.INFO, format="%(asctime)s spotray-agent %(message)s")
    try:
        config = AgentConfig.from_env(
            metadata_host=metadata_host,
            gcs_address=address,
            node_id=node_id,
            notice_seconds=notice_seconds,
            margin_seconds=margin_seconds,
        )
    except AgentError as exc:
        _error(exc)
        raise typer.Exit(2) from None
    raise typer.Exit(run_agent(config))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    spec: SpecArg,
    local: LocalFlag = False,
    preempt_every: Annotated[
        float | None,
        typer.Option(
            "--preempt-rate",
            help="Mean seconds between preemptions of each Spot node (a Poisson process).",
        ),
    ] = None,
    trace: Annotated[
        Path | None, typer.Option(help="Preemptions from a CSV trace: time,group,count.")
    ] = None,
    stockout: Annotated[
        list[str] | None,
        typer.Option(help="GROUP:START:SECONDS: no capacity for GROUP for a while (repeatable)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the preemption schedule.")] = 0,
    time_scale: Annotated[float, typer.Option(help="Compress the Spot shutdown window.")] = 1.0,
    scale: Annotated[float | None, typer.Option(help="Resource scale (see `up`).")] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Write the report as JSON here (default: in the cluster's state)."),
    ] = None,
    keep: Annotated[bool, typer.Option(help="Leave the cluster up afterwards.")] = False,
    horizon: Annotated[float, typer.Option(help="Seconds of preemption schedule to draw.")] = 3600,
) -> None:
    """Run a job (after `--`) on the local cluster with Spot preemptions, then report.

    Exits with the job's own exit code (128+N if a signal N killed it); Ctrl-C or SIGTERM
    stops the job, writes the report marked `interrupted`, tears down and exits 130."""
    with _errors():
        _need_local(local)
        argv = list(ctx.args)
        if not argv:
            raise InputError("give the job after `--`, e.g. -- python examples/batch_job.py")
        from . import _bounds
        from . import local as lc

        time_scale = _bounds.positive("--time-scale", time_scale, high=1000)
        if scale is not None:
            _bounds.finite("--scale", scale, low=0, low_open=True, high=1)
        plan = _load_plan(spec)
        # Spot groups and their most VMs (Poisson streams run per VM: node slots)
        spot = {g.name: g.max_vms for g in plan.workers if g.pool.spot}
        preemptions = []
        if preempt_every is not None:
            preemptions += lc.poisson(spot, preempt_every, horizon, seed)
        if trace is not None:
            from ._io import read_input

            preemptions += lc.read_trace(read_input(trace, what="trace"), str(trace), set(spot))
        stockouts = [_stockout(s, {g.name for g in plan.workers}) for s in stockout or []]
        if report is not None:
            _check_writable(report)
        cluster = lc.find(plan.name)
        started = cluster is None
        if not started:
            err.print(
                f"using the running local cluster {plan.name!r} (its --scale and --time-scale "
                "apply; `spotray down` it to change them)"
            )
        # SIGTERM and SIGHUP act like Ctrl-C from the start (up stops what it started) to the
        # end of the teardown, which a second signal must not cut short
        with _signals.as_interrupt():
            if started:
                with err.status("starting the local cluster..."):
                    cluster = lc.up(plan, scale=scale, time_scale=time_scale)
            try:
                result = _run_live(cluster, argv, preemptions, stockouts, seed, plan)
            finally:
                if started and not keep:
                    with _signals.ignored():
                        cluster.down()
        from ._local._view import job_output, report_tables

        logs = sorted((cluster.state / "logs").glob("job-*.log"))
        if logs:
            out.print(job_output(logs[-1].read_text(errors="replace")))
            err.print(f"(the job's whole log, with Ray's own messages: {logs[-1]})")
        for table in report_tables(result):
            out.print(table)
        import json

        from ._io import write_text

        path = report or cluster.state / "logs" / f"report-{int(time.time())}.json"
        write_text(path, json.dumps(result.to_json(), indent=2) + "\n")
        out.print(f"report written to {path}")
        if result.interrupted:
            err.print("interrupted: the job was stopped and the cluster torn down")
            raise typer.Exit(130)
        code = result.exit_code
        raise typer.Exit(code if code >= 0 else 128 - code)


def _check_writable(path: Path) -> None:
    """Refuse a report path that cannot be written before the run, not after it."""
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a file for the report")
    if not path.parent.is_dir():
        raise InputError(f"{path}: no directory {path.parent} for the report")


def _run_live(cluster, argv, preemptions, stockouts, seed, plan):
    from rich.live import Live

    from . import local as lc
    from ._local._view import instances_table

    with Live(console=err, refresh_per_second=2, transient=True) as live:

        def tick(elapsed: float, instances: list[dict], tasks: dict[str, int]) -> None:
            done = tasks.get("FINISHED", 0)
            progress = f", {done} task(s) done" if tasks else ""
            title = f"{' '.join(argv)}  [{elapsed:.0f} s{progress}]"
            live.update(instances_table(instances, title=title))

        return lc.run_job(
            cluster,
            argv,
            preemptions=preemptions,
            stockouts=stockouts,
            seed=seed,
            price_source=plan.price_source,
            on_tick=tick,
        )


def _stockout(text: str, groups: set[str]):
    from . import local as lc

    parts = text.split(":")
    try:
        group, start, seconds = parts[0], float(parts[1]), float(parts[2])
    except (IndexError, ValueError):
        raise InputError(f"--stockout {text!r}: expected GROUP:START:SECONDS") from None
    if group not in groups:
        raise InputError(f"--stockout {text!r}: no worker group {group!r}")
    from . import _bounds
    from ._local._cloud import MAX_STOCKOUT_SECONDS
    from ._spot._schedule import MAX_SCHEDULE_SECONDS

    _bounds.finite("--stockout START", start, low=0, high=MAX_SCHEDULE_SECONDS)
    _bounds.finite("--stockout SECONDS", seconds, low=0, high=MAX_STOCKOUT_SECONDS)
    return lc.Stockout(start, group, seconds)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with `argv` (default: `sys.argv[1:]`); return the exit code."""
    try:
        code = app(args=argv if argv is not None else sys.argv[1:], standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        return 130
    except typer.TyperException as exc:  # usage errors: unknown command, missing argument
        exc.show()
        return exc.exit_code
    return code if isinstance(code, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
