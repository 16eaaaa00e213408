"""The run report's arithmetic, on hand-made records (the real ones are in test_local_cluster)."""

from __future__ import annotations

import pytest

from spotray._local._report import group_reports, task_summary

GROUPS = [
    {
        "name": "spot",
        "spot": True,
        "usd_per_pod_hour_spot": 0.36,
        "usd_per_pod_hour_on_demand": 1.08,
    },
    {
        "name": "od",
        "spot": False,
        "usd_per_pod_hour_spot": 0.36,
        "usd_per_pod_hour_on_demand": 1.08,
    },
]


def inst(group, created, running_at, terminated_at=None, noticed_at=None):
    return {
        "group": group,
        "kind": "worker",
        "created": created,
        "running_at": running_at,
        "terminated_at": terminated_at,
        "noticed_at": noticed_at,
    }


def test_group_reports_count_the_run_only_and_price_node_seconds():
    instances = [
        inst("spot", -50, -49, -10, noticed_at=-12),  # before the run: not counted
        inst("spot", -5, 1, 100, noticed_at=90),  # started before, preempted in the run
        inst("spot", 95, 105, None),  # a replacement, runs to the end (200 s)
        inst("spot", 150, None),  # never started: launched, but no seconds
        inst("od", 5, 10, 260),  # outlives the run: clipped at its end
    ]
    spot, od = group_reports(instances, GROUPS, begin=0, end=200)
    assert (spot.launched, spot.preempted, spot.replaced, spot.node_seconds) == (2, 1, 2, 194)
    assert spot.usd_as_run == pytest.approx(194 / 3600 * 0.36)
    assert spot.usd_on_demand == pytest.approx(194 / 3600 * 1.08)
    assert (od.launched, od.node_seconds, od.usd_as_run) == (
        1,
        190,
        pytest.approx(190 / 3600 * 1.08),
    )


def test_task_summary_counts_attempts_and_lost_seconds():
    attempts = [
        {
            "task_id": "a",
            "attempt_number": 0,
            "state": "FINISHED",
            "type": "NORMAL_TASK",
            "start_time_ms": 0,
            "end_time_ms": 2000,
        },
        # lost with its node: no end time; it ended when its retry was created
        {
            "task_id": "b",
            "attempt_number": 0,
            "state": "FAILED",
            "type": "NORMAL_TASK",
            "error_type": "NODE_DIED",
            "node_id": "n1",
            "start_time_ms": 1000,
            "end_time_ms": None,
        },
        {
            "task_id": "b",
            "attempt_number": 1,
            "state": "FINISHED",
            "type": "NORMAL_TASK",
            "creation_time_ms": 4000,
            "start_time_ms": 5000,
            "end_time_ms": 7000,
        },
        {"task_id": "d", "attempt_number": 0, "state": "FINISHED", "type": "DRIVER_TASK"},
    ]
    # Ray's words for the node's death (ray.dashboard.utils.compose_state_message)
    summary = task_summary(attempts, {"n1": "Terminated due to preemption: drained"})
    assert summary == {
        "task_attempts": 3,
        "tasks": 2,
        "failed_attempts": 1,
        "retried_attempts": 1,
        "failed_by_cause": {"NODE_DIED": 1},
        "attempts_by_cause": {"preempted": 1},
        "node_deaths_by_ray": {"preemption": 1},
        "task_seconds_ok": 4.0,
        "task_seconds_lost": 3.0,
    }
    unexpected = task_summary(attempts, {"n1": "Unexpected termination: health check failed"})
    assert unexpected["node_deaths_by_ray"] == {"unexpected": 1}
    assert task_summary(attempts)["node_deaths_by_ray"] == {"unknown": 1}


def test_autoscaler_config_carries_the_plan_to_rays_autoscaler(tmp_path):
    from dataclasses import asdict

    import spotray
    from spotray._local._controller import HEAD_TYPE, autoscaler_config
    from spotray._local._shape import local_groups

    from .conftest import EXAMPLES

    plan = spotray.plan(spotray.load_spec(EXAMPLES / "recommended.yaml"))
    groups = local_groups(plan, 0.25)
    config = {"name": plan.name, "groups": [asdict(g) for g in groups], "idle_timeout_seconds": 60}
    cfg = autoscaler_config(config, "http://127.0.0.1:1", tmp_path)
    assert cfg["provider"]["module"] == "spotray._local._provider.LocalSpotProvider"
    # the controller's secret is named by path, never written into the config
    assert cfg["provider"]["secret_file"] == str(tmp_path / "controller.secret")
    assert cfg["head_node_type"] == HEAD_TYPE and cfg["idle_timeout_minutes"] == 1
    for g, w in zip(groups, plan.workers, strict=True):
        node_type = cfg["available_node_types"][g.name]
        assert (node_type["min_workers"], node_type["max_workers"]) == (
            w.min_replicas,
            w.max_replicas,
        )
        assert node_type["priority"] == (w.priority or 0)
        assert node_type["labels"]["cloud.google.com/gke-nodepool"] == w.pool.name
        assert node_type["resources"]["CPU"] == g.cpus
    priorities = {g.name: cfg["available_node_types"][g.name]["priority"] for g in groups}
    assert priorities == {"cpu-spot": 10, "cpu-ondemand": 0}  # Spot first, on-demand fallback


def test_job_output_keeps_the_jobs_lines_and_drops_rays_own():
    from spotray._local._view import job_output

    # lines as a Ray 2.60 driver printed them in `make demo` (ANSI colours included)
    log = (
        "\x1b[33m(raylet)\x1b[0m There are tasks with infeasible resource requests that cannot"
        " be scheduled.\n"
        "\x1b[36m(autoscaler +1s)\x1b[0m Adding 1 node(s) of type small-group.\n"
        "(raylet) [state-dump] NodeManager:\n"
        "5/40 chunks done\n"
        "\x1b[36m(square pid=4242)\x1b[0m working on 7\n"
        "(raylet, ip=127.0.0.1) [state-dump] Event stats:\n"
        "(monitor pid=77) a task the user named monitor\n"
        "OK: sum of squares 1..1000000 = 333333833333500000 (exact)\n"
    )
    assert job_output(log) == (
        "5/40 chunks done\n"
        "\x1b[36m(square pid=4242)\x1b[0m working on 7\n"
        "(monitor pid=77) a task the user named monitor\n"
        "OK: sum of squares 1..1000000 = 333333833333500000 (exact)"
    )
    assert job_output("x" * 5000, tail=10) == "x" * 10
