"""Tests for the committed GCE machine/price table and the script that derives it."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "tools" / "refresh_gce_data.py"
COMMITTED = REPO_ROOT / "src" / "spotray" / "_data" / "gce_machines.json"
SOURCE_YAML = REPO_ROOT.parent / "shared" / "prices" / "gce-pricing.yml"


def _load_script():
    spec = importlib.util.spec_from_file_location("refresh_gce_data", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("refresh_gce_data", module)
    spec.loader.exec_module(module)
    return module


refresh = _load_script()


@pytest.fixture(scope="module")
def committed_text() -> str:
    return COMMITTED.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def data(committed_text: str) -> dict:
    return json.loads(committed_text)


@pytest.fixture(scope="module")
def machines(data: dict) -> dict:
    return data["machines"]


# (a) the committed file is exactly what the script derives from the shared source


@pytest.mark.skipif(not SOURCE_YAML.is_file(), reason=f"source pricing file absent: {SOURCE_YAML}")
def test_committed_json_matches_regeneration(committed_text: str) -> None:
    regenerated = refresh.render(refresh.build(refresh.load_source(SOURCE_YAML)))
    assert regenerated == committed_text, (
        "src/spotray/_data/gce_machines.json is stale; run python tools/refresh_gce_data.py"
    )


@pytest.mark.skipif(not SOURCE_YAML.is_file(), reason=f"source pricing file absent: {SOURCE_YAML}")
def test_committed_shapes_match_regeneration() -> None:
    """The shapes `check` loads (gce_machine_shapes.json) are the priced table's, exactly."""
    shapes = COMMITTED.with_name("gce_machine_shapes.json").read_text(encoding="utf-8")
    assert shapes == refresh.render_shapes(refresh.build(refresh.load_source(SOURCE_YAML)))


# (b) spot checks


def test_e2_standard_2(machines: dict) -> None:
    m = machines["e2-standard-2"]
    assert (m["family"], m["vcpus"], m["memory_gib"], m["bundled_gpus"]) == (
        "e2-standard",
        2,
        8,
        {},
    )


def test_n1_standard_4(machines: dict) -> None:
    m = machines["n1-standard-4"]
    assert (m["vcpus"], m["memory_gib"]) == (4, 15)


def test_fractional_memory_kept(machines: dict) -> None:
    assert machines["n1-standard-1"]["memory_gib"] == 3.75


def test_bundled_gpus(machines: dict) -> None:
    assert machines["a2-highgpu-1g"]["bundled_gpus"] == {"nvidia-tesla-a100": 1}
    assert machines["a2-ultragpu-1g"]["bundled_gpus"] == {"nvidia-a100-80gb": 1}
    assert machines["g2-standard-4"]["bundled_gpus"] == {"nvidia-l4": 1}
    assert machines["n2-standard-8"]["bundled_gpus"] == {}


def test_every_machine_type_of_the_source(machines: dict) -> None:
    # issue 10: a4 aside (absent from the source), the catalog covers the price data
    for name in (
        "e2-micro",
        "e2-small",
        "e2-medium",
        "c3d-standard-8",
        "n4-standard-2",
        "c3-standard-4-lssd",
        "a3-megagpu-8g",
        "c4a-standard-8",
        "t2a-standard-4",
    ):
        assert name in machines, name
    assert machines["e2-small"]["family"] == "e2-small"
    assert machines["c3d-highmem-8-lssd"]["family"] == "c3d-highmem"
    assert machines["a3-megagpu-8g"]["bundled_gpus"] == {"nvidia-h100-mega-80gb": 8}
    assert machines["a3-highgpu-8g"]["bundled_gpus"] == {"nvidia-h100-80gb": 8}
    source = refresh.load_source(SOURCE_YAML) if SOURCE_YAML.is_file() else None
    if source is not None:
        assert set(machines) == set(source["compute"]["instance"])


def test_spot_cheaper_than_on_demand_in_us_central1(machines: dict) -> None:
    checked = 0
    for name, m in machines.items():
        row = m["usd_per_hour"].get("us-central1", {})
        if "on_demand" in row and "spot" in row:
            assert 0 < row["spot"] < row["on_demand"], name
            checked += 1
    assert checked >= 100


def test_price_rows_well_formed(machines: dict) -> None:
    for name, m in machines.items():
        assert m["usd_per_hour"] or name.startswith("m4n-"), name  # m4n: no price yet
        for region, row in m["usd_per_hour"].items():
            assert row and set(row) <= {"on_demand", "spot"}, (name, region)
            for price in row.values():
                assert isinstance(price, (int, float)) and price > 0
                assert round(price, 6) == price


# (c) provenance


def test_source_block(data: dict) -> None:
    src = data["source"]
    assert src["name"] == "gce-pricing.yml"
    assert src["url"] == "https://github.com/Cyclenerd/google-cloud-pricing-cost-calculator"
    assert src["timestamp"] == 1785391997
    assert src["generated"] == "2026-07-30T06:13:17Z"
    assert src["license"].startswith("Apache-2.0")
    assert "Nils Knieling" in src["license"]
    assert src["derived_by"] == "tools/refresh_gce_data.py"


# script behaviour on a small synthetic source (fast; no dependency on the shared file)

MINI_YAML = textwrap.dedent(
    """\
    about:
      copyright: |2

        Copyright 2022-2025 Nils Knieling. All Rights Reserved.

        Licensed under the Apache License, Version 2.0 (the "License");
      generated: Thu Jan  1 00:00:10 1970
      timestamp: 10
      url: https://github.com/Cyclenerd/google-cloud-pricing-cost-calculator
    compute:
      instance:
        e2-micro:
          cpu: 2
          ram: 1
          cost: {us-central1: {hour: 0.01, hour_spot: 0.005}}
        c3-standard-4-lssd:
          cpu: 4
          ram: 16
          local-ssd: 375
          cost: {us-central1: {hour: 0.3, hour_spot: 0.1}}
        n1-standard-1:
          cpu: 1
          ram: 3.75
          cost:
            us-central1: {hour: 0.0474997123, hour_spot: 0.01, month: 34.7}
            europe-north2: {hour_spot: 0.012}
        a2-ultragpu-1g:
          a100-80gb: 1
          local-ssd: 375
          cpu: 12
          ram: 170
          cost: {us-central1: {hour: 5.06879789041096}}
      license:
        n1-standard-1:
          cost: {us-central1: {hour: 99}}
    """
)


@pytest.fixture()
def mini_source(tmp_path: Path) -> Path:
    path = tmp_path / "mini.yml"
    path.write_text(MINI_YAML, encoding="utf-8")
    return path


def test_build_mini(mini_source: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = refresh.build(refresh.load_source(mini_source))
    # every machine type of the source, variants (-lssd) and shared-core types included
    assert sorted(doc["machines"]) == [
        "a2-ultragpu-1g",
        "c3-standard-4-lssd",
        "e2-micro",
        "n1-standard-1",
    ]
    n1 = doc["machines"]["n1-standard-1"]
    assert n1["memory_gib"] == 3.75
    assert n1["usd_per_hour"] == {
        "us-central1": {"on_demand": 0.0475, "spot": 0.01},
        "europe-north2": {"spot": 0.012},
    }
    a2 = doc["machines"]["a2-ultragpu-1g"]
    assert a2["bundled_gpus"] == {"nvidia-a100-80gb": 1}
    assert a2["usd_per_hour"] == {"us-central1": {"on_demand": 5.068798}}
    assert doc["source"]["generated"] == "1970-01-01T00:00:10Z"
    assert doc["source"]["license"] == "Apache-2.0, Copyright 2022-2025 Nils Knieling"
    capsys.readouterr()


def test_unknown_gpu_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "gpu.yml"
    path.write_text(MINI_YAML.replace("a100-80gb: 1", "b200: 1"), encoding="utf-8")
    with pytest.raises(refresh.SourceError, match="b200"):
        refresh.build(refresh.load_source(path))


def test_check_mode(mini_source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    args = ["--source", str(mini_source), "--out", str(out)]
    assert refresh.main([*args, "--check"]) == 1  # missing output
    assert refresh.main(args) == 0
    assert json.loads(out.read_text())["machines"]["n1-standard-1"]["vcpus"] == 1
    assert refresh.main([*args, "--check"]) == 0
    out.write_text(out.read_text().replace("3.75", "3.5"))
    assert refresh.main([*args, "--check"]) == 1
