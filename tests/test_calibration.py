"""The simulator against the local Spot cluster (issue 13, step 5), in a short scenario: the
same spec, plain Ray tasks that start over when preempted, the same seeded Poisson schedule,
real Ray (time-scaled) against the simulated twin (`_local/_calibrate.py`). The full comparison
is `bench/calibrate.py` (measured: medians within 9% over seeds; see README)."""

from __future__ import annotations

import statistics

import pytest

import spotray
from spotray._local._calibrate import run_pair

from .conftest import ROOT

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("local_state_dir")]


def test_the_simulator_agrees_with_the_local_cluster_on_a_short_job():
    plan = spotray.plan(spotray.load_spec(ROOT / "tests" / "data" / "local-spec.yaml"))
    pairs = [
        run_pair(
            plan,
            job=ROOT / "examples" / "resumable_job.py",
            tasks=8,
            steps=20,
            step_seconds=1.0,
            mean_seconds=20.0,  # the bench's tasks and rate, half its tasks
            seed=seed,
        )
        for seed in (1, 2)
    ]
    assert all(p.preemptions > 0 for p in pairs)
    local = statistics.median(p.local_makespan for p in pairs)
    sim = statistics.median(p.sim_makespan for p in pairs)
    # two runs on 2 busy cores: a wide band (the bench's five runs hold 15%; measured 4%)
    assert sim == pytest.approx(local, rel=0.35), [p.__dict__ for p in pairs]
    local_redone = statistics.median(p.local_redone for p in pairs)
    sim_redone = statistics.median(p.sim_redone for p in pairs)
    assert sim_redone == pytest.approx(local_redone, rel=0.5, abs=10), [p.__dict__ for p in pairs]
