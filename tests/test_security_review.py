"""The rendered files under a security reviewer's tool: checkov 3.3 (its own venv, made by
`make test`: it cannot share spotray's) on the Terraform node pools and on the Ray Pods.

checkov does not know RayCluster: its Pod checks read only built-in kinds (Pod, Deployment,
...; checkov/kubernetes/kubernetes_utils.py). KubeRay creates bare Pods from each group's
template, so each template is reviewed as the Pod KubeRay makes of it (its labels and namespace,
the autoscaler sidecar on the head, the init container on workers), next to the ServiceAccount
and NetworkPolicies that raycluster.yaml carries.

Every check that fails is either fixed by spotray or listed in SKIPPED with its reason, which
docs/security.md repeats (a test keeps the two in step).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import spotray

from .conftest import EXAMPLES, ROOT

CHECKOV = os.environ.get("SPOTRAY_CHECKOV") or shutil.which("checkov") or ""
if not CHECKOV and (ROOT / ".venv-checkov" / "bin" / "checkov").exists():
    CHECKOV = str(ROOT / ".venv-checkov" / "bin" / "checkov")
needs_checkov = pytest.mark.skipif(
    not CHECKOV or not Path(CHECKOV).exists(), reason="checkov is not installed (make test does)"
)

# Checks not applied to Ray Pods, and why (docs/security.md says the same).
SKIPPED = {
    "CKV_K8S_8": "liveness probe: KubeRay adds its own probes to the Ray container",
    "CKV_K8S_9": "readiness probe: KubeRay adds its own probes to the Ray container",
    "CKV_K8S_22": "read-only root filesystem: Ray writes /tmp/ray and /home/ray",
    "CKV_K8S_40": "UID >= 10000: the Ray image's user is UID 1000 and owns its Python",
}
# Applied only where they can be: the head's autoscaler needs its service account token; a
# digest (CKV_K8S_43, and CKV_K8S_15 which passes with one) needs `security.image_digest`; the
# seed names no namespace (kubectl apply -n chooses it).
HEAD_ONLY = {"CKV_K8S_38"}
WITHOUT_DIGEST = {"CKV_K8S_43", "CKV_K8S_15"}
WITHOUT_NAMESPACE = {"CKV_K8S_21"}
DIGEST = "sha256:" + "0123456789abcdef" * 4


def kuberay_pods(manifests: list[dict]) -> list[dict]:
    """The Pods KubeRay makes of a RayCluster (one per group), with KubeRay's labels and
    the containers it adds."""
    (cluster,) = [m for m in manifests if m["kind"] == "RayCluster"]
    name, namespace = cluster["metadata"]["name"], cluster["metadata"].get("namespace")
    spec = cluster["spec"]
    groups = [("headgroup", "head", spec["headGroupSpec"])]
    groups += [(g["groupName"], "worker", g) for g in spec["workerGroupSpecs"]]
    pods = []
    for group, node_type, body in groups:
        labels = {"ray.io/cluster": name, "ray.io/node-type": node_type, "ray.io/group": group}
        metadata = {"name": f"{name}-{group}", "labels": labels}
        if namespace:
            metadata["namespace"] = namespace
        pod = copy.deepcopy(body["template"]["spec"])
        ray = pod["containers"][0]
        # what KubeRay 1.7 adds (ray-operator/controllers/ray/common/pod.go): the autoscaler
        # sidecar on the head, with autoscalerOptions.securityContext; on workers, an init
        # container waiting for the GCS, with a copy of the Ray container's securityContext
        if node_type == "head" and spec.get("enableInTreeAutoscaling"):
            sidecar = {
                "name": "autoscaler",
                "image": ray.get("image"),
                "resources": ray.get("resources"),
            }
            context = spec.get("autoscalerOptions", {}).get("securityContext")
            pod["containers"].append(
                {**sidecar, **({"securityContext": context} if context else {})}
            )
        if node_type == "worker":
            init = {
                "name": "wait-gcs-ready",
                "image": ray.get("image"),
                "resources": ray.get("resources"),
            }
            if "securityContext" in ray:
                init["securityContext"] = ray["securityContext"]
            pod["initContainers"] = [init]
        pods.append({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod})
    return pods


def review(rendered: spotray.Rendered, folder: Path) -> list[tuple[str, str]]:
    """checkov's failed checks on the rendered files: (check id, resource)."""
    manifests = list(yaml.safe_load_all(rendered.raycluster))
    others = [m for m in manifests if m["kind"] != "RayCluster"]
    folder.mkdir()
    (folder / "node-pools.tf").write_text(rendered.terraform)
    (folder / "pods.yaml").write_text(yaml.safe_dump_all([*others, *kuberay_pods(manifests)]))
    run = subprocess.run(
        [
            CHECKOV,
            "-d",
            str(folder),
            "--framework",
            "kubernetes",
            "terraform",
            "--skip-download",
            "--skip-check",
            ",".join(SKIPPED),
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": ""},
    )
    assert run.returncode in (0, 1), run.stderr[-2000:]
    reports = json.loads(run.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = []
    for report in reports:
        assert report["summary"]["passed"] > 0, report["check_type"]  # it did look
        for check in report["results"]["failed_checks"]:
            failed.append((check["check_id"], check["resource"]))
    return sorted(failed)


def unexpected(failed, *, digest: bool, namespace: bool) -> list[tuple[str, str]]:
    allowed = set()
    if not digest:
        allowed |= WITHOUT_DIGEST
    if not namespace:
        allowed |= WITHOUT_NAMESPACE
    return [
        (check, resource)
        for check, resource in failed
        if check not in allowed and not (check in HEAD_ONLY and "headgroup" in resource)
    ]


@needs_checkov
@pytest.mark.parametrize("example", ["seed.yaml", "recommended.yaml"])
def test_checkov_finds_nothing_that_applies(example, tmp_path):
    spec = spotray.load_spec(EXAMPLES / example)
    failed = review(spotray.render(spec), tmp_path / "out")
    assert unexpected(failed, digest=False, namespace=spec.namespace is not None) == []
    # what is allowed to fail does fail (so the review ran on what we think it did)
    assert {"CKV_K8S_43"} <= {check for check, _ in failed}


@needs_checkov
def test_checkov_with_a_digest_passes_the_image_checks(tmp_path):
    text = (EXAMPLES / "recommended.yaml").read_text()
    text = text.replace("security:\n", f"security:\n  image_digest: {DIGEST}\n", 1)
    failed = review(spotray.render(spotray.load_spec("r.yaml", text=text)), tmp_path / "out")
    assert unexpected(failed, digest=True, namespace=True) == []
    assert [c for c, _ in failed if c in WITHOUT_DIGEST] == []


@needs_checkov
def test_checkov_flags_the_articles_own_pods(tmp_path):
    """The oracle can fail: the seed article's RayCluster, hand-written, fails what spotray fixes."""
    seed = ROOT.parent / "shared" / "seed"
    if not seed.exists():
        pytest.skip("../shared/seed is not present")
    manifests = list(yaml.safe_load_all((seed / "ray-cluster.yaml").read_text()))
    cluster = manifests[0]
    cluster["spec"]["headGroupSpec"] = {"template": {"spec": {"containers": [{"name": "h"}]}}}
    rendered = spotray.Rendered(
        {
            "raycluster.yaml": yaml.safe_dump(cluster),
            "node-pools.tf": (seed / "nodepool.tf").read_text(),
        }
    )
    failed = {check for check, _ in review(rendered, tmp_path / "out")}
    assert {"CKV_K8S_20", "CKV_K8S_23", "CKV_K8S_28", "CKV_K8S_31", "CKV_GCP_68"} <= failed


def test_docs_list_every_skipped_check():
    text = (ROOT / "docs" / "security.md").read_text()
    for check in [*SKIPPED, *HEAD_ONLY, *WITHOUT_DIGEST, *WITHOUT_NAMESPACE]:
        assert check in text, check
