"""Rendering examples/seed.yaml reproduces the article's files (parsed), except deliberate fixes.

The deliberate fixes, each asserted by its own test below:
1. `node_locations` is the list of the region's zones, not the region as a string.
2. Worker containers have no `preStop: ray stop` hook.
3. The head group is present and pinned to an on-demand pool.
4. Shutdown settings: `terminationGracePeriodSeconds` and Ray's drain timeout fit GKE's Spot window.
Plus what the rendered files add around the pools: a `required_providers` block and the
`cluster_name` variable the article's `var.cluster_name` needs.
5. Security additions (issue 8, docs/security.md): the node pools get secure boot
   (`shielded_instance_config`) and keep the node service account the article names (its own
   Terraform defines it, so spotray does not); every Pod and container gets a restricted securityContext (the
   autoscaler sidecar too), Pods run as a dedicated Kubernetes service account whose token only
   the head (its autoscaler) mounts, and a NetworkPolicy admits only the cluster's own Pods.
   No token auth: KubeRay 1.7 refuses it below Ray 2.52 and the seed runs 2.22.

Equivalences that are not changes (Terraform and the provider treat both spellings the same):
`disk_size_gb = "100"` is the number 100, and a `guest_accelerator` with `count = 0` is no GPU.
"""

from __future__ import annotations

import copy

import hcl2
import pytest
import yaml

from spotray._tfeval import expand_resources

from .conftest import raycluster_of, render_example, shared

NODE_POOL = "google_container_node_pool"


@pytest.fixture(scope="module")
def rendered():
    return render_example("seed.yaml")


def _pools(text: str) -> dict[str, dict]:
    doc = hcl2.loads(text)
    return {
        body["name"]: body
        for _, body in expand_resources(doc, NODE_POOL, resolve_variables=False, keep_unknown=True)
    }


def _normalise(pool: dict) -> dict:
    pool = copy.deepcopy(pool)
    config = pool["node_config"][0]
    config["disk_size_gb"] = int(config["disk_size_gb"])
    config["guest_accelerator"] = [
        g for g in config.get("guest_accelerator", []) if int(g["count"]) != 0
    ]
    if not config["guest_accelerator"]:
        del config["guest_accelerator"]
    config.pop("shielded_instance_config", None)  # fix 5
    return pool


@pytest.fixture(scope="module")
def seed_pools():
    return _pools(shared("seed", "nodepool.tf").read_text())


@pytest.fixture(scope="module")
def our_pools(rendered):
    return _pools(rendered.terraform)


@pytest.fixture(scope="module")
def seed_cluster():
    return yaml.safe_load(shared("seed", "ray-cluster.yaml").read_text())


@pytest.fixture(scope="module")
def our_cluster(rendered):
    return raycluster_of(rendered.raycluster)


def test_node_pools_equal_the_seed_but_for_zones(seed_pools, our_pools):
    assert set(our_pools) == set(seed_pools) == {"small-worker", "medium-worker"}
    for name, seed in seed_pools.items():
        ours = _normalise(our_pools[name])
        theirs = _normalise(seed)
        ours.pop("node_locations")
        theirs.pop("node_locations")
        assert ours == theirs, name


def test_fix_node_locations_is_a_list_of_zones(seed_pools, our_pools):
    for name in seed_pools:
        assert seed_pools[name]["node_locations"] == "us-central1"  # the article's bug
        assert our_pools[name]["node_locations"] == [
            "us-central1-a",
            "us-central1-b",
            "us-central1-c",
            "us-central1-f",
        ]


def test_terraform_adds_provider_requirement_and_cluster_variable(rendered):
    doc = hcl2.loads(rendered.terraform)
    providers = doc["terraform"][0]["required_providers"][0]
    assert providers["google-beta"]["source"] == '"hashicorp/google-beta"'
    (variable,) = doc["variable"]
    assert variable['"cluster_name"']["default"] == '"my-gke-cluster"'


def _without_fixes(cluster: dict) -> dict:
    cluster = copy.deepcopy(cluster)
    spec = cluster["spec"]
    cluster["metadata"].pop("annotations", None)  # ray.io/overwrite-container-cmd: issue 9
    spec.pop("headGroupSpec")
    spec["autoscalerOptions"].pop("securityContext", None)  # fix 5
    for group in spec["workerGroupSpecs"]:
        pod = group["template"]["spec"]
        pod.pop("terminationGracePeriodSeconds", None)
        for key in ("securityContext", "serviceAccountName", "automountServiceAccountToken"):
            pod.pop(key, None)  # fix 5
        (container,) = pod["containers"]
        container.pop("lifecycle", None)
        container.pop("command", None)  # `exec` of KubeRay's own ray start: issue 9
        container.pop("args", None)
        container.pop("env", None)
        container.pop("securityContext", None)  # fix 5
    return cluster


def test_raycluster_equals_the_seed_but_for_the_fixes(seed_cluster, our_cluster):
    assert _without_fixes(our_cluster) == _without_fixes(seed_cluster)


def test_fix_no_prestop_ray_stop(seed_cluster, our_cluster):
    seed_hooks = [
        g["template"]["spec"]["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
        for g in seed_cluster["spec"]["workerGroupSpecs"]
    ]
    assert all("ray stop" in cmd for cmd in seed_hooks)
    for group in our_cluster["spec"]["workerGroupSpecs"]:
        for container in group["template"]["spec"]["containers"]:
            hook = container["lifecycle"]["preStop"]["exec"]["command"]  # issue 9: a drain
            assert "ray stop" not in " ".join(hook) and "ray drain-node" in hook[-1]


def test_fix_head_group_pinned_to_on_demand_pool(seed_cluster, our_cluster):
    assert seed_cluster["spec"]["headGroupSpec"] == {}
    head = our_cluster["spec"]["headGroupSpec"]["template"]["spec"]
    (term,) = head["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert {
        "key": "cloud.google.com/gke-nodepool",
        "operator": "In",
        "values": ["default-pool"],
    } in (term["matchExpressions"])
    assert {"key": "cloud.google.com/gke-spot", "operator": "DoesNotExist"} in term[
        "matchExpressions"
    ]
    assert head["containers"][0]["image"] == "rayproject/ray:2.22.0-py311"


def test_fix_shutdown_fits_the_spot_window(our_cluster):
    for group in our_cluster["spec"]["workerGroupSpecs"]:
        pod = group["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] == 15  # GKE's window for ordinary Pods
        env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
        drain = int(env["RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"])
        assert 0 < drain < pod["terminationGracePeriodSeconds"]


def test_fix_security_additions(rendered, our_cluster, our_pools):
    for pool in our_pools.values():
        (shielded,) = pool["node_config"][0]["shielded_instance_config"]
        assert shielded["enable_secure_boot"] is True
        assert shielded["enable_integrity_monitoring"] is True
        # the account the article names is the article's (defined in its own Terraform)
        assert pool["node_config"][0]["service_account"] == (
            "${google_service_account.gke-ray-node-default.email}"
        )
    kinds = {kind for item in hcl2.loads(rendered.terraform)["resource"] for kind in item}
    assert kinds == {'"google_container_node_pool"'}  # so spotray defines no account

    spec = our_cluster["spec"]
    assert "authOptions" not in spec  # Ray 2.22 has no token auth
    restricted = spec["autoscalerOptions"]["securityContext"]
    assert restricted["allowPrivilegeEscalation"] is False
    assert restricted["capabilities"] == {"drop": ["ALL"]}
    assert restricted["runAsNonRoot"] is True and restricted["runAsUser"] == 1000
    for group in (spec["headGroupSpec"], *spec["workerGroupSpecs"]):
        pod = group["template"]["spec"]
        assert pod["serviceAccountName"] == "ray-cluster"
        assert pod["automountServiceAccountToken"] is (group is spec["headGroupSpec"])
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["containers"][0]["securityContext"] == restricted

    kinds = [d["kind"] for d in yaml.safe_load_all(rendered.raycluster)]
    assert kinds == ["ServiceAccount", "RayCluster", "NetworkPolicy"]
