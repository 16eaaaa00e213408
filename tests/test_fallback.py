"""On-demand fallback in the plan, the rendered RayCluster, `spotray check` (SR404, SR405) and
the run report's arithmetic; the Ray resources a group offers, read as Ray's own KubeRay
autoscaler reads them (proved against Ray 2.60's function on every group of KubeRay's samples
and the real-world manifests). The local cluster's side: test_fallback_local.py. Issue 11."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import spotray
from spotray._check import read_paths, run_checks
from spotray._plan import ALLOCATE_TIMEOUT_ENV
from spotray._rayresources import Unknown, ray_resources, shortfall
from spotray._spot._report import stockout_reports, stockout_windows

from .conftest import EXAMPLES, ROOT, SHARED, raycluster_of


def spec_text(edit=None, name: str = "recommended.yaml") -> str:
    data = yaml.safe_load((EXAMPLES / name).read_text())
    if edit:
        edit(data)
    return yaml.safe_dump(data, sort_keys=False)


def plan_of(edit=None, name: str = "recommended.yaml") -> spotray.Plan:
    return spotray.plan(spotray.load_spec("edited.yaml", text=spec_text(edit, name)))


# --- the plan ---------------------------------------------------------------------------


def test_recommended_falls_back_after_ten_minutes_and_retries_spot_after_ten():
    f = plan_of().fallback
    assert f.routes == (("cpu-spot", "cpu-ondemand"),)
    assert (f.pending_timeout_seconds, f.spot_retry_seconds, f.pending_idle_seconds) == (
        600,
        600,
        120,  # the cluster's idle timeout: a Pending Pod no work needs is dropped like an idle one
    )


def gpu_groups(data):
    for w in data["workers"]:
        w.update(machine_type="g2-standard-8", gpus=1, cpu="7", memory="26Gi")


def test_gpu_groups_default_to_twenty_minutes():
    plan = plan_of(gpu_groups)
    assert [w.fallback_after_seconds for w in plan.workers] == [1200, 1200]
    assert plan.fallback.pending_timeout_seconds == 1200


def test_a_set_value_is_the_clusters_and_the_largest_set_one_wins():
    def edit(data):
        data["workers"][0]["fallback_after_seconds"] = 180
        data["workers"][1]["fallback_after_seconds"] = 240

    plan = plan_of(edit)
    assert plan.fallback.pending_timeout_seconds == 240
    env = plan.fallback.env()
    assert env[ALLOCATE_TIMEOUT_ENV] == "240"
    assert plan.fallback.env(time_scale=30)[ALLOCATE_TIMEOUT_ENV] == "8"


def test_a_gpu_group_left_at_its_default_is_not_cut_short_silently():
    def edit(data):
        gpu_groups(data)
        data["workers"][0]["fallback_after_seconds"] = 300

    with pytest.raises(spotray.SpecError) as info:
        plan_of(edit)
    text = str(info.value)
    assert "edited.yaml" in text and "workers[1].name" in text
    assert "group 'cpu-ondemand' needs 1200 s" in text and "after 300 s" in text


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["ray"]["autoscaler"].update(version="v1"),  # v1 ranks no group by priority
        lambda d: d["workers"][1].update(priority=20),  # the on-demand group is preferred
        lambda d: d["workers"][1].update(cpu="3500m", memory="12Gi"),  # too small for the work
        lambda d: d["workers"][1].update(max_replicas=0, min_replicas=0),
        lambda d: d["workers"][0].update(ray_labels={"tier": "spot"}),  # labels it lacks
    ],
    ids=["autoscaler-v1", "higher-priority", "smaller-pod", "max-zero", "labels"],
)
def test_no_fallback_is_rendered_where_ray_would_never_choose_one(edit):
    plan = plan_of(edit)
    assert plan.fallback is None
    cluster = raycluster_of(spotray.render(plan).raycluster)
    assert "env" not in cluster["spec"].get("autoscalerOptions", {})


def test_the_seed_has_no_fallback_and_renders_none():
    assert plan_of(name="seed.yaml").fallback is None


def test_spec_bounds_name_the_field():
    def edit(data):
        data["workers"][0]["fallback_after_seconds"] = 5

    with pytest.raises(spotray.SpecError, match=r"workers\[0\]\.fallback_after_seconds"):
        plan_of(edit)


def test_explain_shows_where_and_when_work_falls_back():
    from typer.testing import CliRunner

    from spotray.cli import app

    result = CliRunner().invoke(app, ["explain", str(EXAMPLES / "recommended.yaml")])
    assert result.exit_code == 0, result.output
    assert "to cpu-ondemand after 600 s of stockout" in result.output
    assert "Ray gives up on a Pending Pod after 600s" in result.output


# --- check ------------------------------------------------------------------------------


def test_rendered_fallback_passes_sr404_and_sr405_and_rays_default_does_not(tmp_path):
    rendered = spotray.render(plan_of())
    paths = [str(p) for p in rendered.write(tmp_path / "ours")]
    assert not [f for f in run_checks(read_paths(paths)) if f.code in ("SR404", "SR405")]
    # the same files without the env: Ray's default hour
    cluster = raycluster_of(rendered.raycluster)
    del cluster["spec"]["autoscalerOptions"]["env"]
    (tmp_path / "ours" / "raycluster.yaml").write_text(yaml.safe_dump(cluster))
    codes = [f.code for f in run_checks(read_paths(paths))]
    assert codes.count("SR404") == 1 and "SR405" not in codes


def test_sr404_reads_a_set_value_and_stays_quiet_where_it_cannot_know(tmp_path):
    rendered = spotray.render(plan_of())
    paths = [str(p) for p in rendered.write(tmp_path / "ours")]
    cluster = raycluster_of(rendered.raycluster)
    options = cluster["spec"]["autoscalerOptions"]
    for env, codes in (
        ([{"name": ALLOCATE_TIMEOUT_ENV, "value": "7200"}], ["SR404"]),
        ([{"name": ALLOCATE_TIMEOUT_ENV, "value": "3599"}], []),
        ([{"name": ALLOCATE_TIMEOUT_ENV, "valueFrom": {"configMapKeyRef": {"key": "k"}}}], []),
    ):
        options["env"] = env
        (tmp_path / "ours" / "raycluster.yaml").write_text(yaml.safe_dump(cluster))
        found = [f.code for f in run_checks(read_paths(paths)) if f.code == "SR404"]
        assert found == codes, env


# --- Ray resources, as Ray's KubeRay autoscaler reads them -------------------------------


def _cluster_specs(path: Path):
    for doc in yaml.safe_load_all(path.read_text()):
        if not isinstance(doc, dict):
            continue
        spec = doc.get("spec") or {}
        kind = doc.get("kind")
        if kind == "RayJob":
            spec = spec.get("rayClusterSpec") or {}
        elif kind == "RayService":
            spec = spec.get("rayClusterConfig") or {}
        elif kind != "RayCluster":
            continue
        if spec.get("headGroupSpec"):
            yield spec["headGroupSpec"], True
        for group in spec.get("workerGroupSpecs") or []:
            yield group, False


def _manifests() -> list[Path]:
    out = [*ROOT.glob("tests/cases/**/*.yaml")]
    for folder in ("kuberay-samples", "realworld"):
        out += sorted((SHARED / folder).glob("*.y*ml"))
    return out


def test_ray_resources_agree_with_rays_own_reading_on_every_real_group():
    if not (SHARED / "kuberay-samples").exists():
        pytest.skip("../shared is not present")
    pytest.importorskip("ray")
    from ray.autoscaler._private.kuberay.autoscaling_config import (
        _get_ray_resources_from_group_spec as rays,
    )

    compared = refused = 0
    for path in _manifests():
        for group, is_head in _cluster_specs(path):
            try:
                theirs = rays(group, is_head)
            except Exception:
                with pytest.raises(Unknown):
                    ray_resources(group)
                refused += 1
                continue
            # Ray adds a TPU slice's head resource (TPU-<type>-head) from the node selectors;
            # a fallback of the same slice type has it too, so it does not decide a fallback
            theirs = {
                k: v
                for k, v in theirs.items()
                if (v or k == "CPU") and not (k.startswith("TPU-") and k.endswith("-head"))
            }
            assert ray_resources(group) == theirs, f"{path.name}: {group.get('groupName')}"
            compared += 1
    # 302 groups read alike, 5 that Ray refuses (no CPU) refused alike (measured)
    assert compared >= 300 and refused >= 5, (compared, refused)


def test_shortfall_names_what_is_missing():
    need = {"CPU": 8, "memory": 27 * 2**30, "GPU": 1}
    assert shortfall({"CPU": 8, "memory": 27 * 2**30, "GPU": 1}, need) == []
    assert shortfall({"CPU": 4, "memory": 12 * 2**30}, need) == [
        "CPU 4 < 8",
        "memory 12Gi < 27Gi",
        "GPU 0 < 1",
    ]


# --- the run report's stocked-out cost ---------------------------------------------------


def test_stockout_cost_is_the_fallbacks_time_at_on_demand_against_spot():
    groups = [
        {"name": "spot", "usd_per_pod_hour_spot": 0.1, "usd_per_pod_hour_on_demand": 0.3},
        {"name": "od", "usd_per_pod_hour_spot": 0.1, "usd_per_pod_hour_on_demand": 0.3},
    ]
    events = [
        {"t": 10.0, "event": "stockout", "group": "spot", "seconds": 100.0},
        {"t": 50.0, "event": "stockout", "group": "spot", "seconds": 100.0},  # overlaps: merged
        {"t": 400.0, "event": "stockout", "group": "spot", "seconds": 1000.0},  # past the run
    ]

    def inst(created, running, terminated, group="od"):
        return {
            "group": group,
            "kind": "worker",
            "created": created,
            "running_at": running,
            "terminated_at": terminated,
        }

    instances = [
        inst(40.0, 42.0, 1842.0),  # launched in the stockout: 1800 s, of which 458 in the run
        inst(5.0, 7.0, 100.0),  # launched before it: not the stockout's doing
        inst(140.0, None, None),  # launched in it, never ran
        inst(60.0, 62.0, 80.0, group="spot"),  # another group
    ]
    assert stockout_windows(events, "spot", 0.0, 500.0) == [(10.0, 150.0), (400.0, 500.0)]
    (report,) = stockout_reports(events, instances, groups, [("spot", "od")], 0.0, 500.0)
    assert report.stocked_out_seconds == 240.0
    assert report.fallback_launched == 2
    assert report.fallback_node_seconds == 458.0
    assert report.usd_fallback == pytest.approx(458 / 3600 * 0.3, abs=1e-6)  # rounded to 1e-6
    assert report.usd_at_spot == pytest.approx(458 / 3600 * 0.1, abs=1e-6)
    assert report.usd_extra == pytest.approx(458 / 3600 * 0.2, abs=2e-6)
    assert stockout_reports(events, instances, groups, [("od", "spot")], 0.0, 500.0) == []
