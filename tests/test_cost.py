"""`spotray cost` and `spotray advise` (issue 13): the cluster priced from the plan, and
machine types ranked per useful vCPU-hour. Prices are checked against the upstream price file
in ../shared/prices (read here line by line: the outside reference), not only the packaged copy."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import spotray
from spotray.cli import app

from .conftest import EXAMPLES, seed_with_an_l4_group, shared


def upstream_price(machine: str, region: str) -> tuple[float, float]:
    """(on-demand, spot) USD/h of `machine` in `region` from gce-pricing.yml's
    compute.instance section."""
    lines = shared("prices", "gce-pricing.yml").read_text().splitlines()
    start = lines.index(f"    {machine}:")
    at = lines.index(f"        {region}:", start)
    values = {}
    for line in lines[at + 1 :]:
        if not line.startswith("          "):
            break  # the region's block ended
        key, _, value = line.strip().partition(": ")
        values[key] = float(value)
    return values["hour"], values["hour_spot"]


@pytest.fixture(scope="module")
def seed():
    spec = spotray.load_spec(EXAMPLES / "seed.yaml")
    return spec, spotray.cost(spec)


def test_seed_pools_are_priced_as_the_upstream_price_file_says(seed):
    _, report = seed
    small = next(g for g in report.groups if g.group == "small-group")
    od, spot = upstream_price("e2-standard-2", "us-central1")
    assert small.usd_per_node_hour == pytest.approx(spot, abs=1e-6)  # a Spot pool
    assert small.usd_per_node_hour_on_demand == pytest.approx(od, abs=1e-6)
    assert small.discount == pytest.approx(1 - spot / od, abs=1e-4)
    # one 1-CPU, 4G Pod per e2-standard-2 node: that is all a node gives the group
    assert (small.pods_per_node, small.useful_vcpus_per_node) == (1, 1.0)
    assert small.usd_per_useful_vcpu_hour == pytest.approx(spot / 1.0, abs=1e-6)
    assert small.usd_per_useful_gib_hour == pytest.approx(spot / (4e9 / 2**30), abs=1e-6)


def test_cluster_totals_are_nodes_times_prices(seed):
    spec, report = seed
    plan = spotray.plan(spec)
    by_name = {g.group: g for g in report.groups}
    at_max = sum(by_name[g.name].max_nodes * g.pool.usd_per_node_hour for g in plan.groups)
    at_max_od = sum(by_name[g.name].max_nodes * g.pool.price.on_demand for g in plan.groups)
    assert report.total("max") == pytest.approx(at_max, abs=1e-6)
    assert report.total("max", "on-demand") == pytest.approx(at_max_od, abs=1e-6)
    assert report.total("min") == pytest.approx(plan.head.pool.usd_per_node_hour, abs=1e-6)
    assert report.saving("max") == pytest.approx(1 - at_max / at_max_od)


def test_recommended_at_max_scale():
    report = spotray.cost(spotray.load_spec(EXAMPLES / "recommended.yaml"))
    spot = next(g for g in report.groups if g.group == "cpu-spot")
    _, sp = upstream_price("n2-standard-8", "us-central1")
    assert spot.max_nodes == 40 and spot.usd_per_node_hour == pytest.approx(sp, abs=1e-6)
    assert spot.useful_vcpus_per_node == 7.5  # one 7500m Pod per node
    assert report.total("max") > report.total("min") > 0


def test_cost_compares_regions_and_prints_json():
    result = CliRunner().invoke(
        app,
        [
            "cost",
            str(EXAMPLES / "seed.yaml"),
            "--region",
            "europe-west4",
            "--output-format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [d["region"] for d in data] == ["us-central1", "europe-west4"]
    _, spot = upstream_price("e2-standard-2", "europe-west4")
    small = next(g for g in data[1]["groups"] if g["group"] == "small-group")
    assert small["usd_per_node_hour"] == pytest.approx(spot, abs=1e-6)
    assert data[1]["price_source"]["generated"] == "2026-07-30T06:13:17Z"
    text = CliRunner().invoke(app, ["cost", str(EXAMPLES / "seed.yaml"), "--region", "us-east1"])
    assert "regions compared" in text.output and "gce-pricing.yml generated" in text.output


def test_an_unknown_region_is_a_spec_error():
    result = CliRunner().invoke(app, ["cost", str(EXAMPLES / "seed.yaml"), "--region", "mars-1"])
    assert result.exit_code == 2
    assert "unknown region 'mars-1'" in result.output


def test_advise_finds_a_cheaper_machine_for_the_seeds_small_group():
    spec = spotray.load_spec(EXAMPLES / "seed.yaml")
    (small, _medium) = spotray.advise(spec)
    assert small.current.machine == "e2-standard-2"
    best = small.best
    _, spot = upstream_price(best.machine, "us-central1")
    assert best.cost.usd_per_node_hour == pytest.approx(spot, abs=1e-6)
    # the same 1-CPU Pod, on a machine whose Spot discount is deeper than E2's ~40%
    assert best.cost.usd_per_useful_vcpu_hour < small.current.cost.usd_per_useful_vcpu_hour
    assert best.saving > 0.3
    assert best.cost.discount > small.current.cost.discount
    assert "Spot discount" in small.reason(best)
    ranked = [c.cost.usd_per_useful_vcpu_hour for c in small.ranked]
    assert ranked == sorted(ranked)


def test_advise_ranks_gpu_groups_among_machines_with_their_accelerator():
    text = seed_with_an_l4_group()
    spec = spotray.load_spec("g2.yaml", text=text)
    gpu = spotray.advise(spec, top=20)[1]
    assert gpu.ranked
    for c in gpu.ranked:
        assert c.machine.startswith("g2-"), c.machine  # the L4 machines


def test_advise_apply_writes_a_copy_with_only_the_machine_types_changed(tmp_path):
    spec_path = tmp_path / "seed.yaml"
    spec_path.write_text((EXAMPLES / "seed.yaml").read_text())
    out = tmp_path / "advised.yaml"
    result = CliRunner().invoke(
        app, ["advise", str(spec_path), "--apply", str(out), "--output-format", "json"]
    )
    assert result.exit_code == 0, result.output
    advice = json.loads(result.stdout)
    before, after = spec_path.read_text().splitlines(), out.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    best = [item["ranked"][0]["machine"] for item in advice]
    assert [b.split(":")[1].strip() for _, b in changed] == best
    assert all("machine_type:" in a for a, _ in changed)
    assert spotray.plan(spotray.load_spec(out))  # a valid spec
    refused = CliRunner().invoke(app, ["advise", str(spec_path), "--apply", str(spec_path)])
    assert refused.exit_code == 2 and "another file" in refused.output


def test_advise_fill_grows_the_pods_to_fill_their_nodes():
    spec = spotray.load_spec(EXAMPLES / "recommended.yaml")
    for item in spotray.advise(spec, fill=True, top=3):
        for c in item.ranked:
            assert c.used > 0.97, (c.machine, c.used)  # the node's offer, used


def test_advise_on_the_recommended_example_prices_each_group_at_its_market():
    spot, on_demand = spotray.advise(spotray.load_spec(EXAMPLES / "recommended.yaml"))
    assert (spot.market, on_demand.market) == ("spot", "on-demand")
    for item in (spot, on_demand):
        od_price, spot_price = upstream_price(item.best.machine, "us-central1")
        want = spot_price if item.market == "spot" else od_price
        assert item.best.cost.usd_per_node_hour == pytest.approx(want, abs=1e-6)
        assert item.best.saving > 0
    # an on-demand group pays list price: the Spot discount is no reason there
    assert "Spot discount" in spot.reason(spot.best)
    reason = on_demand.reason(on_demand.best)
    assert "Spot discount" not in reason and "on-demand $" in reason


def test_bad_top_is_refused():
    result = CliRunner().invoke(app, ["advise", str(EXAMPLES / "seed.yaml"), "--top", "0"])
    assert result.exit_code == 2


def test_advise_ranks_other_regions_but_applies_only_machine_types():
    spec = spotray.load_spec(EXAMPLES / "seed.yaml")
    home = spotray.advise(spec, top=50)
    wide = spotray.advise(spec, top=50, regions=("europe-west4",))
    small, wide_small = home[0], wide[0]
    assert {c.region for c in small.ranked} == {"us-central1"}
    assert "europe-west4" in {c.region for c in wide_small.ranked}
    assert wide_small.best.cost.usd_per_useful_vcpu_hour <= small.best.cost.usd_per_useful_vcpu_hour
    there = next(c for c in wide_small.ranked if c.region == "europe-west4")
    _, spot = upstream_price(there.machine, "europe-west4")
    assert there.cost.usd_per_node_hour == pytest.approx(spot, abs=1e-6)
    assert "in europe-west4" in wide_small.reason(there)
    assert wide_small.best_in("us-central1").machine == small.best.machine
