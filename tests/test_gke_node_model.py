"""What GKE puts on a node (issue 10), as `check` sees it: the labels and taints GKE adds by
itself (GPU and TPU taints with the toleration Kubernetes' ExtendedResourceToleration plugin
gives Pods that request the device, preemptible vs Spot labels, the Workload Identity label,
os/arch), and the verdicts on real Terraform + Ray pairs from ../shared/realworld."""

from __future__ import annotations

import pytest

from spotray._check import read_paths, run_checks
from spotray._check._documents import Pool
from spotray._check._scheduling import UNKNOWN_LABEL, can_schedule

from .conftest import shared


def pool(**fields) -> Pool:
    return Pool(**{"name": "p", "file": "x.tf", "line": 1, "machine_type": None, "spot": False,
                   "taints": (), **fields})  # fmt: skip


def pod(requests: dict | None = None, **spec) -> dict:
    return {"containers": [{"name": "c", "resources": {"requests": requests or {}}}], **spec}


def test_gpu_nodes_are_tainted_and_pods_requesting_gpus_tolerate_it():
    gpu = pool(machine_type="g2-standard-24", gpu_type="nvidia-l4", gpu_count=2)
    assert [str(t) for t in gpu.node_taints] == ["nvidia.com/gpu=present:NoSchedule"]
    assert can_schedule(pod({"nvidia.com/gpu": 1}), gpu.node_labels, gpu.node_taints).fits
    assert not can_schedule(pod({"cpu": "1"}), gpu.node_labels, gpu.node_taints).fits


def test_tpu_nodes_carry_their_labels_and_taint():
    tpu = pool(machine_type="ct6e-standard-8t", spot=True)
    labels = tpu.node_labels
    assert labels["cloud.google.com/gke-tpu-accelerator"] == "tpu-v6e-slice"
    assert labels["cloud.google.com/gke-tpu-topology"] == "2x4"  # single host: the machine's
    assert [t.key for t in tpu.node_taints] == ["google.com/tpu"]
    wants = pod(
        {"google.com/tpu": 8},
        nodeSelector={
            "cloud.google.com/gke-tpu-accelerator": "tpu-v6e-slice",
            "cloud.google.com/gke-tpu-topology": "2x4",
        },
    )
    assert can_schedule(wants, labels, tpu.node_taints).fits
    multi = pool(machine_type="ct6e-standard-4t", tpu_topology="4x4")
    assert multi.node_labels["cloud.google.com/gke-tpu-topology"] == "4x4"


def test_preemptible_nodes_are_labelled_preemptible_not_spot():
    pre = pool(spot=True, preemptible=True).node_labels
    assert pre["cloud.google.com/gke-preemptible"] == "true"
    assert "cloud.google.com/gke-spot" not in pre
    spot = pool(spot=True).node_labels
    assert spot["cloud.google.com/gke-spot"] == "true"
    assert "cloud.google.com/gke-preemptible" not in spot


@pytest.mark.parametrize(
    "mode, label", [(True, "true"), (False, None), (None, UNKNOWN_LABEL)]
)  # fmt: skip
def test_workload_identity_label_follows_the_metadata_mode(mode, label):
    labels = pool(gke_metadata=mode).node_labels
    assert labels.get("iam.gke.io/gke-metadata-server-enabled") == label
    wants = pod(nodeSelector={"iam.gke.io/gke-metadata-server-enabled": "true"})
    verdict = can_schedule(wants, labels, ())
    assert verdict.fits == (mode is not False)
    assert bool(verdict.unknown) == (mode is None)


def test_os_and_arch():
    assert pool(machine_type="e2-standard-4").node_labels["kubernetes.io/arch"] == "amd64"
    assert pool(machine_type="e2-standard-4").node_labels["kubernetes.io/os"] == "linux"


# Real pairs of Terraform and Ray manifests from the same projects, and the verdict (errors and
# warnings, security rules aside) we defend for each.
PAIRS = {
    # Google's ML-platform reference: pools with "${var.subnet_01_region}-a" zones, GPU pools
    # (GKE's GPU taint) and a Ray cluster selecting the Workload Identity label; the L4 group
    # can land on the Spot, on-demand and DWS L4 pools alike: a true SR203; the head's Pod
    # leaves 47% of its n4-standard-8 idle (SR304, now that the catalog has N4)
    (
        "aiongke-mlplatform-node-pools.tf",
        "aiongke-platform.tfvars",
        "derived-aiongke-mlplatform-raycluster-rendered.yaml",
    ): ["SR203", "SR304"],
    # kubernetes-engine-samples' gke-ray platform and its RayJob: nothing wrong
    (
        "kes-gkeray-platform-main.tf",
        "kes-gkeray-platform-variables.tf",
        "kes-rayjob-pytorch-mnist.yaml",
    ): [],
    # ... and its RayService: with the platform's default variables the GPU pool has T4s, the
    # service selects L4s (a true SR201 until the variable is changed); preStop `ray stop`
    (
        "kes-gkeray-platform-main.tf",
        "kes-gkeray-platform-variables.tf",
        "kes-rayservice-llama2-7b.yaml",
    ): ["SR201", "SR501"],
    # the TPU get-started cluster: a Spot v6e slice that its TPU group lands on (GKE's TPU
    # labels and taint); the head's Pod leaves 44% of its node idle
    ("derived-kes-tpu-getstarted-module.tf", "kes-tpu-raycluster-qwen3-v6e.yaml"): ["SR304"],
}


@pytest.mark.parametrize("files", sorted(PAIRS), ids=lambda f: f[-1])
def test_realworld_pairs(files):
    docs = read_paths([str(shared("realworld", name)) for name in files])
    found = run_checks(docs, ignore=["SR7"])
    serious = sorted({f.code for f in found if f.severity.name in ("ERROR", "WARNING")})
    assert serious == PAIRS[files]
