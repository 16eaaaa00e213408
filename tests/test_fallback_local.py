"""On-demand fallback on the local cluster (real Ray 2.60, autoscaler v2, time-scaled): during
a Spot stockout the new worker waits Pending, Ray's autoscaler gives up on it after the plan's
pending timeout and launches the lower-priority on-demand group; when the stockout is over and
the Spot group's availability has recovered, new work goes to Spot again and the on-demand node
has scaled down. One cluster for the module; `test_fallback_defaults_local.py` runs the same
stockout with Ray's defaults. Issue 11."""

from __future__ import annotations

import json
import sys
import time

import pytest

import spotray
from spotray import local
from spotray._plan import ALLOCATE_TIMEOUT_ENV, AVAILABILITY_RECOVERY_ENV

from .conftest import DATA, driver, last_json, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("local_state_dir")]
SPEC = DATA / "fallback-spec.yaml"
WHERE = str(DATA / "where_job.py")
TIME_SCALE = 30  # the 600 s fallback becomes 20 s
IDLE_SECONDS = 5
PROVISION_SECONDS = 2.0
# a launch is seen by the autoscaler within ~1 s (its update interval) and a local node takes
# its provisioning plus a few seconds of `ray start` on 2 busy cores
MARGIN_SECONDS = PROVISION_SECONDS + 10
STOCKOUT_SECONDS = 40


@pytest.fixture(scope="module")
def cluster():
    plan = spotray.plan(spotray.load_spec(SPEC))
    cluster = local.up(
        plan,
        time_scale=TIME_SCALE,
        idle_timeout_seconds=IDLE_SECONDS,
        provision_seconds=PROVISION_SECONDS,
    )
    yield cluster
    cluster.down()


def configured(cluster) -> tuple[int, int]:
    env = cluster.config["autoscaler_env"]
    return int(env[ALLOCATE_TIMEOUT_ENV]), int(env[AVAILABILITY_RECOVERY_ENV])


def test_the_autoscaler_gets_the_plans_fallback_settings_time_scaled(cluster):
    plan = spotray.plan(spotray.load_spec(SPEC))
    assert plan.fallback.routes == (("cpu-spot", "cpu-ondemand"),)
    assert plan.fallback.pending_timeout_seconds == 600  # the default, as rendered
    assert configured(cluster) == (20, 20)  # 600 s / 30, 600 s / 30


def test_during_a_stockout_work_runs_on_demand_within_the_configured_time(cluster, tmp_path):
    from spotray._report_schema import SCHEMA

    timeout, _ = configured(cluster)
    log = tmp_path / "job.log"
    report = local.run_job(
        cluster,
        [sys.executable, WHERE, "120"],
        stockouts=[local.Stockout(0, "cpu-spot", STOCKOUT_SECONDS)],
        log=log,
    )
    result = json.loads(log.read_text().strip().splitlines()[-1])
    assert result["group"] == "cpu-ondemand", result
    assert timeout <= result["waited"] <= timeout + MARGIN_SECONDS, result
    events = [(e["event"], e.get("group")) for e in cluster.events()]
    # the Spot Pod was created and waited Pending, then Ray gave up on it: then the fallback
    assert events.index(("stockout-pending", "cpu-spot")) < events.index(("terminate", "cpu-spot"))
    assert events.index(("terminate", "cpu-spot")) < events.index(("launch", "cpu-ondemand"))
    # the run report prices the on-demand time used instead of Spot
    (stockout,) = report.stockouts
    assert (stockout.group, stockout.fallback, stockout.fallback_launched) == (
        "cpu-spot",
        "cpu-ondemand",
        1,
    )
    assert stockout.fallback_node_seconds > 0
    assert stockout.usd_fallback > stockout.usd_at_spot > 0
    assert stockout.usd_extra == pytest.approx(stockout.usd_fallback - stockout.usd_at_spot)
    import jsonschema

    jsonschema.validate(report.to_json(), SCHEMA)


def test_after_the_stockout_on_demand_scales_down_and_new_work_goes_to_spot(cluster):
    _, recovery = configured(cluster)
    events = cluster.events()
    (stockout,) = [e for e in events if e["event"] == "stockout"]
    (given_up,) = [e for e in events if e["event"] == "terminate" and e["group"] == "cpu-spot"]
    # the on-demand node, idle once its task ended, is scaled down after the idle timeout
    wait_until(
        lambda: any(
            e["event"] == "terminated" and e["group"] == "cpu-ondemand" for e in cluster.events()
        ),
        IDLE_SECONDS + 30,
        "the idle on-demand node to be scaled down",
    )
    # Spot capacity is back and Ray's availability of the Spot group has recovered
    ready = max(stockout["t"] + stockout["seconds"], given_up["t"] + recovery) + 1
    while cluster.now() < ready:
        time.sleep(0.5)
    result = last_json(driver(cluster, [sys.executable, WHERE, "60"]), timeout=120)
    assert result["group"] == "cpu-spot", result
