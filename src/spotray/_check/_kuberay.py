"""KubeRay 1.7 facts the SR1xx rules share: the operator's feature gates (an input of
`spotray check`), and where spotray deliberately differs from KubeRay's own tests.

Gate names, defaults and stages from KubeRay v1.7.0 `ray-operator/pkg/features/features.go`
(`defaultFeatureGates`). A field that needs a gate that is off is an SR1xx error naming it.
"""

from __future__ import annotations

from .._errors import InputError

# name -> (default, stage)
KUBERAY_GATES: dict[str, tuple[bool, str]] = {
    "RayClusterStatusConditions": (True, "Beta"),
    "RayJobDeletionPolicy": (True, "Beta"),
    "RayMultiHostIndexing": (True, "Beta"),
    "RayServiceIncrementalUpgrade": (True, "Beta"),
    "RayCronJob": (False, "Alpha"),
    "SidecarSubmitterRestart": (False, "Alpha"),
    "RayClusterNetworkPolicy": (False, "Alpha"),
    "GCSFaultToleranceEmbeddedStorage": (False, "Alpha"),
    "RayClusterMTLS": (False, "Alpha"),
    "RayClusterHistoryServer": (False, "Alpha"),
    "KubernetesWAS": (False, "Alpha"),
}


def default_gates() -> dict[str, bool]:
    return {name: default for name, (default, _) in KUBERAY_GATES.items()}


def parse_gates(values: list[str] | str | None) -> dict[str, bool]:
    """`NAME=true,NAME=false` (one or more flags, as the operator's --feature-gates) over
    KubeRay 1.7's defaults. Unknown names and values that are not true/false are errors."""
    gates = default_gates()
    items = [values] if isinstance(values, str) else list(values or [])
    for text in items:
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = part.partition("=")
            name, value = name.strip(), value.strip().lower()
            if not sep or value not in ("true", "false"):
                raise InputError(
                    f"--kuberay-feature-gates {part!r}: expected NAME=true or NAME=false"
                )
            if name not in KUBERAY_GATES:
                known = ", ".join(sorted(KUBERAY_GATES))
                raise InputError(
                    f"--kuberay-feature-gates: KubeRay 1.7 has no feature gate {name!r} ({known})"
                )
            gates[name] = value == "true"
    return gates


def gate_note(name: str) -> str:
    """How a message names a gate: `the RayClusterMTLS feature gate (Alpha, off by default)`."""
    default, stage = KUBERAY_GATES[name]
    return f"the {name} feature gate ({stage}, {'on' if default else 'off'} by default)"


# Where spotray's verdict differs from a case of KubeRay's tests (tests/kuberay_parity/, by case
# id) on purpose, and why; tests/test_kuberay_parity.py holds spotray to exactly these, and
# docs/rules.md lists them.
_NO_BOUNDS = (
    "KubeRay's test calls ValidateRayClusterSpec on a group without minReplicas/maxReplicas. On "
    "a real cluster the CRD defaults them (0 and 2147483647) before KubeRay sees it, so KubeRay "
    "never refuses this; spotray checks what the API server stores (SR105 notes it, as info)."
)
DIFFERENCES: dict[str, str] = {
    "TestValidateRayClusterSpec_WorkerGroupReplicaValidation/minReplicas are nil when "
    "autoscaling disabled": _NO_BOUNDS,
    "TestValidateRayClusterSpec_WorkerGroupReplicaValidation/maxReplicas are nil when "
    "autoscaling disabled": _NO_BOUNDS,
    "TestValidateRayClusterSpec_WorkerGroupReplicaValidation/minReplicas and maxReplicas both "
    "are nil when autoscaling disabled": _NO_BOUNDS,
}
# ... and from what a default 1.7 install does with the case's manifest
INSTALL_DIFFERENCES: dict[str, str] = {}
