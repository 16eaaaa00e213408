"""The preemption simulator (issue 13) against closed forms: no preemptions (exact makespan and
cost), Poisson preemptions with checkpoints (the expected work redone per preemption), tasks
that restart from scratch (goodput lambda*L / (e^(lambda*L) - 1)); seeds; bad workload files."""

from __future__ import annotations

import json
import math

import pytest

import spotray
from spotray import SpecError
from spotray._sim._engine import Engine, Settings
from spotray._sim._runs import monte_carlo, percentile, simulate
from spotray._sim._workload import load_workload

from .conftest import EXAMPLES, sim_group

group = sim_group


def workload(text: str, groups=("g",)):
    return load_workload("w.yaml", set(groups), set(groups), text=text)


def test_without_preemptions_makespan_and_cost_are_exact():
    wl = workload("tasks: {count: 20, duration: {fixed: 100}}\nprovision_seconds: 30\n")
    g = group(spot=False, slots=2, min_pods=3, max_pods=3, usd_per_node_hour=0.1)
    result = Engine([g], wl, Settings(head_usd_per_hour=0.05)).run()
    # 3 Pods x 2 slots: 20 tasks in ceil(20 / 6) = 4 waves of 100 s, after 30 s of provisioning
    assert result.makespan == 30 + 4 * 100
    assert result.tasks_done == 20 and result.redone_seconds == 0 and result.goodput == 1.0
    # all on-demand: VM-hours x price, each VM billed from its creation to the end
    assert result.vm_hours == {"g": pytest.approx(3 * 430 / 3600)}
    assert result.usd == pytest.approx(3 * 430 / 3600 * 0.1 + 430 / 3600 * 0.05)
    assert result.usd == pytest.approx(result.usd_on_demand)


def test_redone_work_per_preemption_matches_the_closed_form():
    # Poisson preemptions of rate lambda per VM, a checkpoint every tau: each preemption loses
    # the work since the last checkpoint, E = 1/lambda - tau / (e^(lambda tau) - 1)
    rate, tau = 1.0, 1800.0  # per hour; seconds: lambda * tau = 0.5
    wl = workload(
        f"tasks: {{count: 40, duration: {{fixed: 10000000}}, checkpoint_seconds: {tau}}}\n"
        f"provision_seconds: 0\npreemption: {{g: {{rate_per_hour: {rate}}}}}\n"
    )
    g = group(min_pods=40, max_pods=40)
    result = Engine([g], wl, Settings(window=0, drain=0, horizon=60 * 3600), seed=7).run()
    lam = rate / 3600
    expected = 1 / lam - tau / math.expm1(lam * tau)  # 825 s
    assert result.preemptions > 2000
    per = result.redone_seconds / result.preemptions
    assert per == pytest.approx(expected, rel=0.05)  # ~1.5% standard error at this count


def test_restart_from_scratch_goodput_matches_the_closed_form():
    # tasks of length L restarted from scratch, preemptions of rate lambda per VM, replacement
    # at once: time per task (e^(lambda L) - 1) / lambda, goodput lambda L / (e^(lambda L) - 1)
    length = 3600.0
    wl = workload(
        f"tasks: {{count: 3000, duration: {{fixed: {length}}}}}\nprovision_seconds: 0\n"
        "preemption: {g: {rate_per_hour: 1.0}}\n"
    )
    result = Engine([group(max_pods=60)], wl, Settings(window=0, drain=0), seed=3).run()
    lam_l = 1.0
    assert result.tasks_done == 3000
    assert result.goodput == pytest.approx(lam_l / math.expm1(lam_l), rel=0.03)  # 0.582


def test_resumable_tasks_lose_nothing_when_the_save_fits_the_drain():
    text = (
        "tasks: {count: 200, duration: {fixed: 3600}, resumable: true, save_seconds: 5}\n"
        "provision_seconds: 0\npreemption: {g: {rate_per_hour: 2.0}}\n"
    )
    result = Engine([group()], workload(text), Settings(window=30, drain=25), seed=1).run()
    assert result.preemptions > 50 and result.redone_seconds == 0 and result.goodput == 1.0
    # a save longer than Ray's drain cannot happen: the work since the start is lost
    late = Engine([group()], workload(text), Settings(window=4, drain=3), seed=1).run()
    assert late.redone_seconds > 0


def test_the_same_seed_gives_the_same_run_and_another_seed_another():
    text = (
        "tasks: {count: 100, duration: {exponential: {mean: 900}}, checkpoint_seconds: 60}\n"
        "preemption: {g: {rate_per_hour: 1.0}}\n"
    )
    runs = [Engine([group()], workload(text), Settings(), seed=s).run() for s in (5, 5, 6)]
    assert runs[0] == runs[1]
    assert runs[0].makespan != runs[2].makespan


def test_a_stockout_falls_back_after_the_pending_timeout_not_before():
    text = (
        "tasks: {count: 4, duration: {fixed: 100}}\nprovision_seconds: 10\n"
        "stockouts: [{at: 0, group: spot, seconds: 5000}]\n"
    )
    wl = workload(text, groups=("spot", "od"))
    spot = group(name="spot", priority=10, max_pods=4)
    od = group(name="od", spot=False, priority=0, max_pods=4, usd_per_node_hour=0.1)
    result = Engine([spot, od], wl, Settings(pending_timeout=600, recovery=600)).run()
    # the Spot Pods wait Pending 600 s, are given up, and the work goes on-demand (10 s to start)
    assert result.makespan == pytest.approx(600 + 10 + 100)
    assert result.vm_hours["spot"] == 0 and result.vm_hours["od"] > 0
    defaults = Engine([spot, od], wl, Settings(pending_timeout=3600)).run()
    assert defaults.makespan == pytest.approx(3600 + 10 + 100)


def test_hazard_by_age_and_traces_preempt():
    text = (
        "tasks: {count: 50, duration: {fixed: 7200}, checkpoint_seconds: 300}\n"
        "preemption: {g: {hazard: [[0, 0.0], [1, 5.0]]}}\n"
    )
    result = Engine([group()], workload(text), Settings(), seed=2).run()
    # no preemption in a VM's first hour, then often
    assert result.preemptions > 0


def test_monte_carlo_percentiles_and_strategies_on_the_recommended_example(tmp_path):
    plan = spotray.plan(spotray.load_spec(EXAMPLES / "recommended.yaml"))
    text = (
        "tasks: {count: 120, duration: {lognormal: {median: 600, sigma: 0.5}}, checkpoint_seconds: 120}\n"
        "provision_seconds: 60\npreemption: {cpu-spot: {rate_per_hour: 0.5}}\n"
    )
    wl = load_workload("w.yaml", {"cpu-spot"}, {"cpu-spot", "cpu-ondemand"}, text=text)
    summaries, results = monte_carlo(
        plan, wl, strategies=["as-planned", "all-on-demand"], runs=8, seed=1
    )
    by = {s.strategy: s for s in summaries}
    assert by["all-on-demand"].preemptions_mean == 0
    assert by["as-planned"].usd["p50"] < by["all-on-demand"].usd["p50"]  # Spot is cheaper
    assert by["as-planned"].makespan["p50"] <= by["as-planned"].makespan["p95"]
    one = simulate(plan, wl, strategy_name="as-planned", seed=1)
    assert one == results["as-planned"][0]


def test_percentiles():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 99) == 5


@pytest.mark.parametrize(
    "text, where",
    [
        ("tasks: {count: 0, duration: {fixed: 10}}\n", "w.yaml:1:"),
        ("tasks: {count: 5, duration: {fixed: 10, exponential: {mean: 3}}}\n", "tasks.duration"),
        ("tasks:\n  count: 5\n  duration: {fixed: 10}\n  cpus: -1\n", "w.yaml:4:"),
        (
            "tasks: {count: 5, duration: {fixed: 10}}\npreemption: {nope: {rate_per_hour: 1}}\n",
            "no Spot group 'nope'",
        ),
        ("tasks: {count: 5, duration: {fixed: 10}}\nbogus: 1\n", "unknown field"),
    ],
)
def test_bad_workloads_name_the_file_line_and_field(text, where):
    with pytest.raises(SpecError) as info:
        workload(text)
    assert where in str(info.value)


def test_bad_csv_rows_name_the_file_and_line(tmp_path):
    (tmp_path / "d.csv").write_text("seconds\n10\nabc\n-1\n")
    (tmp_path / "w.yaml").write_text("tasks: {duration: {csv: d.csv}}\n")
    with pytest.raises(SpecError) as info:
        load_workload(str(tmp_path / "w.yaml"), {"g"}, {"g"})
    text = str(info.value)
    assert "d.csv:3: seconds: not a duration" in text and "d.csv:4:" in text
    (tmp_path / "t.csv").write_text("time_seconds,group,count\n10,g,2\n20,h,1\n30,g,150%\n")
    (tmp_path / "w2.yaml").write_text(
        "tasks: {count: 3, duration: {fixed: 10}}\npreemption: {g: {trace: t.csv}}\n"
    )
    with pytest.raises(SpecError) as info:
        load_workload(str(tmp_path / "w2.yaml"), {"g"}, {"g"})
    assert "t.csv:3: group:" in str(info.value) and "t.csv:4: count:" in str(info.value)


def test_the_cli_prints_json_plots_and_refuses_bad_input(tmp_path):
    from typer.testing import CliRunner

    from spotray.cli import app

    wl = tmp_path / "w.yaml"
    wl.write_text(
        "tasks: {count: 60, duration: {fixed: 300}, checkpoint_seconds: 60}\n"
        "preemption: {cpu-spot: {rate_per_hour: 1.0}}\n"
    )
    spec = str(EXAMPLES / "recommended.yaml")
    args = ["simulate", spec, "--workload", str(wl), "--runs", "3", "--seed", "4"]
    result = CliRunner().invoke(
        app,
        [
            *args,
            "--strategy",
            "as-planned",
            "--strategy",
            "all-on-demand",
            "--output-format",
            "json",
            "--plot",
            str(tmp_path / "plots"),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [s["strategy"] for s in data["strategies"]] == ["as-planned", "all-on-demand"]
    assert data["strategies"][1]["preemptions_mean"] == 0
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "cost-vs-makespan.png",
        "vms-per-pool.png",
    ]
    for png in (tmp_path / "plots").iterdir():
        assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    summaries, _ = spotray.simulate(
        spotray.load_spec(spec), str(wl), runs=3, seed=4, strategies=("as-planned", "all-on-demand")
    )
    assert [s.to_json() for s in summaries] == data["strategies"]  # the API and the CLI agree
    bad = CliRunner().invoke(app, [*args, "--strategy", "cheapest"])
    assert bad.exit_code == 2 and "one of as-planned" in bad.output
    wl.write_text("tasks: {count: 5, duration: {fixed: -3}}\n")
    bad = CliRunner().invoke(app, args)
    assert bad.exit_code == 2 and "w.yaml:1:" in bad.output and "tasks.duration.fixed" in bad.output
