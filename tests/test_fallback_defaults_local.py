"""The same Spot stockout as `test_fallback_local.py`, with Ray's autoscaler at its defaults
(`ray_default_timeouts`): a Pending Pod is waited for an hour, so within the time spotray's
setting falls back in, no work reaches the on-demand group. Issue 11."""

from __future__ import annotations

import sys

import pytest

import spotray
from spotray import local
from spotray._local._cluster import local_fallback_env
from spotray._plan import ALLOCATE_TIMEOUT_ENV

from .conftest import driver, last_json
from .test_fallback_local import (
    IDLE_SECONDS,
    MARGIN_SECONDS,
    PROVISION_SECONDS,
    SPEC,
    STOCKOUT_SECONDS,
    TIME_SCALE,
    WHERE,
)

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("local_state_dir")]


def test_with_rays_defaults_work_does_not_reach_on_demand_within_the_configured_time():
    plan = spotray.plan(spotray.load_spec(SPEC))
    ours = local_fallback_env(plan, TIME_SCALE, IDLE_SECONDS, PROVISION_SECONDS)
    window = int(ours[ALLOCATE_TIMEOUT_ENV]) + MARGIN_SECONDS
    cluster = local.up(
        plan,
        time_scale=TIME_SCALE,
        idle_timeout_seconds=IDLE_SECONDS,
        provision_seconds=PROVISION_SECONDS,
        ray_default_timeouts=True,
    )
    try:
        assert cluster.config["autoscaler_env"] == {}
        cluster.stockout("cpu-spot", STOCKOUT_SECONDS)
        result = last_json(driver(cluster, [sys.executable, WHERE, str(window)]), timeout=120)
        assert result["group"] is None, result  # not run anywhere within the window
        groups = {i["group"] for i in cluster.instances()}
        assert "cpu-ondemand" not in groups  # the fallback was never launched
        pending = [i for i in cluster.instances() if i["group"] == "cpu-spot"]
        assert pending and all(i["state"] != "running" for i in pending)  # still waiting
    finally:
        cluster.down()
