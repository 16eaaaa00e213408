"""Availability traces in the Can't Be Late format (skypilot-org/spot-traces, NSDI'24): each tick
holds the number of Spot instances available. The dataset has no license file, so none of it is
in this repository: the files here are written by the tests in the same shape (its README's
schema: `{"metadata": {"gap_seconds": G}, "data": [...]}`, some preemption files also carry
`prices`). `bench/traces.py DIR` runs the real files when you have them."""

from __future__ import annotations

import itertools
import json

import pytest
from typer.testing import CliRunner

import spotray
from spotray import SpecError
from spotray._sim._availability import changes, read_availability
from spotray._sim._engine import Engine, Settings
from spotray._sim._workload import load_workload
from spotray.cli import app

from .conftest import EXAMPLES, sim_group


def group(**changes):
    base = dict(name="spot", max_pods=8, priority=10, usd_per_node_hour=1.0)
    return sim_group(**{**base, "usd_per_node_hour_on_demand": 3.0, **changes})


def write(tmp_path, data, gap=600, name="t.json", **extra):
    (tmp_path / name).write_text(
        json.dumps({"metadata": {"gap_seconds": gap}, "data": data, **extra})
    )


def load(tmp_path, tasks: str, availability: str, groups=("spot",)):
    (tmp_path / "w.yaml").write_text(
        f"tasks: {tasks}\nprovision_seconds: 90\npreemption:\n  spot: {{availability: {availability}}}\n"
    )
    return load_workload(str(tmp_path / "w.yaml"), {"spot"}, set(groups))


SETTINGS = Settings(window=15, drain=10)


def test_a_fall_preempts_and_the_pool_stays_out_until_the_trace_rises(tmp_path):
    # available 0-1200 s, out 1200-3000 s, back from 3000 s (ticks of 600 s)
    write(tmp_path, [1, 1, 0, 0, 0, 1, 1, 1])
    wl = load(tmp_path, "{count: 1, duration: {fixed: 1800}}", "{file: t.json}")
    result = Engine([group()], wl, SETTINGS, seed=1).run()
    # ran from 90 s; noticed at 1200 s and killed 15 s later: 1125 s redone; the replacement's VM
    # is created when the trace rises (3000 s), runs from 3090 s and ends at 3090 + 1800 s
    assert result.preemptions == 1
    assert result.redone_seconds == pytest.approx(1200 + 15 - 90)
    assert result.makespan == pytest.approx(3000 + 90 + 1800)
    # billed: the first VM 0-1215 s, the second from its creation at 3000 s to the end
    assert result.vm_hours["spot"] == pytest.approx((1215 + 1890) / 3600)
    # sky_spot's convention (1 = preempted) on the inverted file is the same run
    write(tmp_path, [0, 0, 1, 1, 1, 0, 0, 0], name="inverse.json")
    inverse = load(
        tmp_path,
        "{count: 1, duration: {fixed: 1800}}",
        "{file: inverse.json, values: unavailable}",
    )
    assert Engine([group()], inverse, SETTINGS, seed=1).run() == result


def test_an_outage_falls_back_to_on_demand_after_the_pending_timeout(tmp_path):
    write(tmp_path, [1] + [0] * 20)
    wl = load(
        tmp_path,
        "{count: 1, duration: {fixed: 1800}}",
        "{file: t.json}",
        groups=("spot", "od"),
    )
    od = group(name="od", spot=False, priority=0, usd_per_node_hour=3.0)
    result = Engine([group(), od], wl, Settings(window=15, drain=10, pending_timeout=600)).run()
    # noticed at 600 s, killed at 615 s; the replacement waits Pending 600 s, is given up at
    # 1215 s, and the task runs on-demand from 1305 s
    assert result.makespan == pytest.approx(1215 + 90 + 1800)
    assert result.vm_hours["od"] == pytest.approx((90 + 1800) / 3600)


def test_capacity_mode_never_runs_more_vms_than_the_trace_has(tmp_path):
    counts = [4, 4, 2, 2, 0, 3, 1, 4, 4, 2, 4]
    write(tmp_path, counts, gap=300)
    wl = load(
        tmp_path,
        "{count: 40, duration: {fixed: 400}, checkpoint_seconds: 60}",
        "{file: t.json, mode: capacity}",
    )
    engine = Engine([group(max_pods=6)], wl, SETTINGS, seed=3)
    result = engine.run()
    assert result.finished and result.preemptions > 0
    # each VM counts from its running start until its notice (or its end)
    spans = []
    for inst in engine.model.instances.values():
        if inst.running_at is not None:
            end = inst.noticed_at if inst.noticed_at is not None else inst.terminated_at
            spans.append((inst.running_at, end if end is not None else result.makespan))
    for t in range(0, int(result.makespan), 5):
        cap = counts[(t // 300) % len(counts)]
        assert sum(start <= t < end for start, end in spans) <= cap, t
    assert max(sum(s <= t < e for s, e in spans) for t in range(0, 600, 5)) == 4  # it used them
    # gate mode with need: 3 reads the same counts as all-or-nothing
    gate = load(
        tmp_path,
        "{count: 40, duration: {fixed: 400}, checkpoint_seconds: 60}",
        "{file: t.json, need: 3}",
    )
    engine = Engine([group(max_pods=6)], gate, SETTINGS, seed=3)
    engine.run()
    running = [i.running_at for i in engine.model.instances.values() if i.running_at is not None]
    assert all(counts[int(t // 300) % len(counts)] >= 3 for t in running)


def test_changes_start_anywhere_and_wrap_around():
    caps = (1.0, 0.0, 0.0, 1.0)
    assert list(itertools.islice(changes(caps, 600, 1200), 5)) == [
        (0.0, 0.0),
        (600.0, 1.0),
        (1800.0, 0.0),
        (3000.0, 1.0),
        (4200.0, 0.0),
    ]
    # 1500 s in: half way through tick 2, so the rise at tick 3 comes 300 s into the run
    assert list(itertools.islice(changes(caps, 600, 1500), 3)) == [
        (0.0, 0.0),
        (300.0, 1.0),
        (1500.0, 0.0),
    ]
    assert list(changes((1.0, 1.0), 600, 600)) == [(0.0, 1.0)]  # never changes: one event


def test_a_run_starts_start_hours_into_the_trace_not_at_its_tick(tmp_path):
    write(tmp_path, [0, 1, 1, 1])
    # 0.1 h (360 s) in: the rise comes 240 s into the run; the Pod asked for at 0 s finds no
    # room when its VM would be up (90 s), waits, and its VM is created at the rise
    wl = load(tmp_path, "{count: 1, duration: {fixed: 100}}", "{file: t.json, start_hours: 0.1}")
    assert Engine([group()], wl, SETTINGS).run().makespan == pytest.approx(240 + 90 + 100)
    # 0.16 h (576 s) in: the rise comes at 24 s, before the VM is up: no wait at all
    wl = load(tmp_path, "{count: 1, duration: {fixed: 100}}", "{file: t.json, start_hours: 0.16}")
    assert Engine([group()], wl, SETTINGS).run().makespan == pytest.approx(90 + 100)
    # rounded down to its tick, both would have waited for a rise 600 s into the run


def test_a_random_start_is_seeded(tmp_path):
    write(tmp_path, [1] * 30 + [0] * 6 + [1] * 30 + [0] * 12, gap=300)
    wl = load(
        tmp_path,
        "{count: 30, duration: {fixed: 900}, checkpoint_seconds: 300}",
        "{file: t.json, start_hours: random}",
    )
    runs = [Engine([group()], wl, SETTINGS, seed=s).run() for s in (1, 1, 2, 3, 4, 5)]
    assert runs[0] == runs[1]
    assert len({r.makespan for r in runs}) > 2  # different starts, different luck
    fixed = load(
        tmp_path,
        "{count: 30, duration: {fixed: 900}, checkpoint_seconds: 300}",
        "{file: t.json, start_hours: 2.5}",
    )
    # 2.5 h in, 30 minutes of outage come first: nothing runs before the trace rises at 3 h
    result = Engine([group()], fixed, SETTINGS, seed=1).run()
    assert result.preemptions == 0 and result.makespan >= 1800 + 90


def test_the_published_shape_with_prices_reads_and_runs_through_the_cli(tmp_path):
    write(tmp_path, [0] + [1] * 200, gap=34, prices=[0.918] * 201)
    trace = read_availability(str(tmp_path / "t.json"))
    assert (
        trace.gap_seconds == 34 and trace.binary and trace.hours == pytest.approx(201 * 34 / 3600)
    )
    (tmp_path / "w.yaml").write_text(
        "tasks: {count: 20, duration: {fixed: 300}}\n"
        "preemption: {cpu-spot: {availability: {file: t.json}}}\n"
    )
    spec = str(EXAMPLES / "recommended.yaml")
    args = ["simulate", spec, "--workload", str(tmp_path / "w.yaml"), "--runs", "2"]
    result = CliRunner().invoke(app, [*args, "--output-format", "json"])
    assert result.exit_code == 0, result.output
    by = {s["strategy"]: s for s in json.loads(result.stdout)["strategies"]}
    assert by["as-planned"]["runs"] == 2
    described = json.loads(result.stdout)["availability"]["cpu-spot"]  # as the run reads it
    assert described["ticks"] == 201 and described["available_share"] == pytest.approx(
        200 / 201, abs=1e-4
    )
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0 and "201 ticks of 34 s" in text.output
    both = CliRunner().invoke(
        app, [*args, "--strategy", "all-on-demand", "--output-format", "json"]
    )
    assert both.exit_code == 0, both.output  # no Spot group: the trace does not apply
    summaries, _ = spotray.simulate(spotray.load_spec(spec), str(tmp_path / "w.yaml"), runs=2)
    assert summaries[0].to_json() == by["as-planned"]


@pytest.mark.parametrize(
    "text, where",
    [
        ('{"metadata": {"gap_seconds": 600},\n "data": [1, 1,\n 0, -1]}', "t.json:3: data[3]:"),
        ('{"metadata": {"gap_seconds": 600},\n "data": [1, true]}', "t.json:2: data[1]:"),
        ('{"metadata": {"gap_seconds": 600},\n "data": [1, 0.5]}', "t.json:2: data[1]:"),
        ('{"metadata": {},\n "data": [1]}', "t.json:1: metadata.gap_seconds:"),
        ('{"metadata": {\n  "gap_seconds": 0}, "data": [1]}', "t.json:2: metadata.gap_seconds:"),
        ('{"metadata": {"gap_seconds": 600},\n "data": []}', "t.json:2: data:"),
        ('{"metadata": {"gap_seconds": 600},\n "data": [1, 0,]}', "t.json:2:16: not JSON"),
        ("[1, 0]", "t.json:1: expected an object"),
        # the top-level data, not a nested key of the same name
        (
            '{"metadata": {"gap_seconds": 600, "x": {"data": [7,\n 7]}},\n "data": [1,\n true]}',
            "t.json:4: data[1]:",
        ),
        ('{"metadata": {"gap_seconds": 0.5},\n "data": [1]}', "metadata.gap_seconds:"),
    ],
)
def test_bad_trace_files_name_the_file_line_and_field(tmp_path, text, where):
    (tmp_path / "t.json").write_text(text)
    with pytest.raises(SpecError) as info:
        load(tmp_path, "{count: 1, duration: {fixed: 10}}", "{file: t.json}")
    assert where in str(info.value)


@pytest.mark.parametrize(
    "data, availability, where",
    [
        (
            [0, 3, 16],
            "{file: t.json, values: unavailable}",
            "preemption.spot.availability.values: values: unavailable reads 0/1",
        ),
        (
            [1, 0],
            "{file: t.json, start_hours: 1}",
            "preemption.spot.availability.start_hours: start_hours 1 is past",
        ),
        ([1, 0], "{file: t.json, mode: capacity, need: 2}", "need applies to mode: gate only"),
        ([1, 0], "{file: t.json, start_hours: later}", "w.yaml:4:"),
        ([1, 0], "{file: t.json, start_hours: true}", "a number of hours or 'random'"),
        (
            [1, 3, 0],
            "{file: t.json, need: 4}",
            "preemption.spot.availability.need: need 4 is above",
        ),
        ([1, 0], "{file: missing.json}", "missing.json: no such file"),
    ],
)
def test_bad_availability_settings_are_located_in_the_workload(tmp_path, data, availability, where):
    write(tmp_path, data)
    with pytest.raises(spotray.SpotrayError) as info:
        load(tmp_path, "{count: 1, duration: {fixed: 10}}", availability)
    assert where in str(info.value)
    assert "missing" in where or "w.yaml:4:" in str(info.value)


def test_the_cli_exits_2_on_a_bad_trace(tmp_path):
    (tmp_path / "t.json").write_text('{"metadata": {"gap_seconds": 600},\n "data": [1, -4]}')
    (tmp_path / "w.yaml").write_text(
        "tasks: {count: 2, duration: {fixed: 300}}\n"
        "preemption: {cpu-spot: {availability: {file: t.json}}}\n"
    )
    args = ["simulate", str(EXAMPLES / "recommended.yaml"), "--workload", str(tmp_path / "w.yaml")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "t.json:2: data[1]:" in result.output


def test_drop_stockout_keeps_running_vms_and_stops_new_ones(tmp_path):
    # the availability sets probe a launch each tick: a 0 is a failed launch, which says nothing
    # of the VMs that run; `drop: stockout` reads it so
    write(tmp_path, [1, 1, 0, 0, 0, 1, 1, 1])
    wl = load(tmp_path, "{count: 2, duration: {fixed: 1800}}", "{file: t.json, drop: stockout}")
    result = Engine([group(max_pods=1)], wl, SETTINGS, seed=1).run()
    # the first task runs 90-1890 s through the outage; the second follows on the same Pod
    assert result.preemptions == 0 and result.makespan == pytest.approx(90 + 2 * 1800)
    # starting 0.5 h in (tick 3: out until tick 5, 1200 s later), the first VM waits for it
    late = Engine(
        [group(max_pods=2)],
        load(
            tmp_path,
            "{count: 1, duration: {fixed: 1800}}",
            "{file: t.json, drop: stockout, start_hours: 0.5}",
        ),
        SETTINGS,
    ).run()
    assert late.preemptions == 0 and late.makespan == pytest.approx(1200 + 90 + 1800)


def test_the_share_available_is_the_share_the_run_can_use(tmp_path):
    from spotray._sim._availability import read_availability as read

    write(tmp_path, [0, 0, 1, 1, 1, 0, 0, 0])
    wl = load(tmp_path, "{count: 1, duration: {fixed: 10}}", "{file: t.json, values: unavailable}")
    assert read(str(tmp_path / "t.json")).to_json(wl.caps("spot"))["available_share"] == 5 / 8
    write(tmp_path, [0, 3, 16, 16])
    wl = load(tmp_path, "{count: 1, duration: {fixed: 10}}", "{file: t.json, need: 16}")
    assert read(str(tmp_path / "t.json")).to_json(wl.caps("spot"))["available_share"] == 2 / 4
