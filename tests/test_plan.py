"""The plan's facts: allocatable, DaemonSets, pods per node, GPU rules, zones, prices."""

from __future__ import annotations

import pytest

import spotray
from spotray._plan import allocatable, catalog, daemonset_overhead, gpu_problem
from spotray._plan._allocatable import kube_reserved_cpu_millis

from .conftest import EXAMPLES, seed_with_an_l4_group


def test_cpu_reservation_tiers():
    assert kube_reserved_cpu_millis(1) == 60
    assert kube_reserved_cpu_millis(2) == 70
    assert kube_reserved_cpu_millis(4) == 80
    assert kube_reserved_cpu_millis(8) == 90
    assert kube_reserved_cpu_millis(64) == 80 + 60 * 2.5


def test_allocatable_matches_a_real_n1_standard_4_node():
    # kubectl describe node on a real n1-standard-4: allocatable cpu 3920m, memory 12699980Ki.
    node = allocatable(4, 15 * 1024)
    assert node.cpu_millis == 3920
    real_kib = 12699980
    ours_kib = node.memory_bytes // 1024
    assert ours_kib <= real_kib  # never promise more than the node has
    assert (real_kib - ours_kib) / real_kib < 0.005


def test_e2_standard_2_offers_about_1_93_cpus():
    assert allocatable(2, 8192).cpu_millis == 1930


def test_daemonsets_depend_on_workload_identity():
    with_wi = daemonset_overhead(workload_identity=True)
    without = daemonset_overhead(workload_identity=False)
    assert with_wi.cpu_millis - without.cpu_millis == 100
    assert (with_wi.memory_bytes - without.memory_bytes) // 2**20 == 100


@pytest.fixture(scope="module")
def seed_plan():
    return spotray.plan(spotray.load_spec(EXAMPLES / "seed.yaml"))


def test_seed_small_group_leaves_half_a_node_idle(seed_plan):
    small = seed_plan.workers[0]
    assert small.pool.machine.name == "e2-standard-2"
    assert small.pods_per_node == 1
    assert small.limited_by == "cpu"
    cpu_used, _ = small.used
    assert cpu_used < 0.75  # > 25% of what the node offers Ray sits idle
    assert small.filling_pod() == ("1610m", "5632Mi")


def test_seed_pools_labels_and_taints(seed_plan):
    small = seed_plan.workers[0].pool
    assert small.labels["cloud.google.com/gke-nodepool"] == "small-worker"
    assert small.labels["cloud.google.com/gke-spot"] == "true"
    assert small.labels["node.kubernetes.io/instance-type"] == "e2-standard-2"
    assert small.labels["cloud.google.com/machine-family"] == "e2"
    assert [(t.key, t.value, t.effect, t.provider_effect) for t in small.taints] == [
        ("dedicated", "small-worker", "NoSchedule", "NO_SCHEDULE")
    ]
    head = seed_plan.head.pool
    assert not head.managed and not head.spot and head.taints == ()
    assert "cloud.google.com/gke-spot" not in head.labels


def test_seed_prices_come_from_the_catalog(seed_plan):
    small = seed_plan.workers[0].pool
    price = catalog().machines["e2-standard-2"].prices["us-central1"]
    assert small.usd_per_node_hour == price.spot
    assert price.spot < price.on_demand
    assert seed_plan.price_source["generated"].startswith("2026-07-30")


def test_seed_shutdown_window(seed_plan):
    s = seed_plan.shutdown
    assert (s.grace_period_seconds, s.drain_timeout_seconds) == (15, 10)
    assert not s.configure_kubelet
    assert all(p.kubelet_shutdown is None for p in seed_plan.pools)


def test_max_nodes(seed_plan):
    assert seed_plan.workers[0].pool.max_nodes == 50 * 4


@pytest.mark.parametrize(
    ("machine", "gpu", "count", "problem"),
    [
        ("n1-standard-8", "nvidia-tesla-t4", 1, None),
        ("n1-standard-8", "nvidia-tesla-v100", 8, None),
        ("n1-standard-16", "nvidia-tesla-v100", 1, "allows at most 12 vCPUs"),
        ("n1-standard-8", "nvidia-tesla-t4", 3, "count 3 is not allowed"),
        ("n2-standard-8", "nvidia-tesla-t4", 1, "attaches only to N1"),
        ("n1-standard-8", "nvidia-l4", 1, "comes only with G2"),
        ("g2-standard-24", "nvidia-l4", 2, None),
        ("g2-standard-24", "nvidia-l4", 1, "comes with exactly 2"),
        ("a2-highgpu-1g", "nvidia-tesla-t4", 1, "not available on it"),
        ("a2-highgpu-2g", "nvidia-tesla-a100", 2, None),
        ("n1-standard-8", "nvidia-h9000", 1, "unknown GPU type"),
    ],
)
def test_gpu_rules(machine, gpu, count, problem):
    found = gpu_problem(catalog().machines[machine], gpu, count)
    if problem is None:
        assert found is None
    else:
        assert problem in found[1]
        counts = ("exactly", "allows", "count ")
        assert found[0] == ("count" if any(w in problem for w in counts) else "type")


def test_bundled_gpus_are_implied():
    text = seed_with_an_l4_group()
    plan = spotray.plan(spotray.load_spec("g2.yaml", text=text))
    pool = plan.workers[1].pool
    assert (pool.gpu_type, pool.gpu_count) == ("nvidia-l4", 1)
    assert pool.labels["cloud.google.com/gke-accelerator"] == "nvidia-l4"
    assert plan.workers[1].pods_per_node == 1


def test_zones_must_belong_to_the_region():
    text = (
        (EXAMPLES / "seed.yaml")
        .read_text()
        .replace(
            "  region: us-central1\n",
            "  region: us-central1\n  zones: [us-central1-a, us-east1-b]\n",
        )
    )
    with pytest.raises(spotray.SpecError, match="'us-east1-b' is not a zone of us-central1"):
        spotray.plan(spotray.load_spec("z.yaml", text=text))


def test_unknown_region_needs_zones():
    text = (
        (EXAMPLES / "seed.yaml").read_text().replace("region: us-central1", "region: mars-north1")
    )
    with pytest.raises(spotray.SpecError, match="unknown region 'mars-north1'"):
        spotray.plan(spotray.load_spec("r.yaml", text=text))
    text = text.replace(
        "  region: mars-north1\n", "  region: mars-north1\n  zones: [mars-north1-a]\n"
    )
    plan = spotray.plan(spotray.load_spec("r.yaml", text=text))
    assert plan.zones == ("mars-north1-a",)
    assert plan.workers[0].pool.usd_per_node_hour is None  # no price: said, not guessed
