"""GKE Autopilot as node pools `check` can reason about.

An Autopilot cluster has no node pools to read: GKE provisions nodes for each Pod from what the
Pod selects. spotray models that as one virtual pool per compute class the manifests name (and
Autopilot's default class), each on demand and on Spot, so the scheduling, shutdown and fallback
rules apply with Autopilot's semantics (Google's Autopilot docs, "Spot Pods" and "compute
classes"):

- a Pod lands on Spot nodes only if it selects Spot (`cloud.google.com/gke-spot: "true"`, or
  the preemptible or provisioning labels that also mean Spot: `_scheduling.selects_spot`); GKE
  taints Spot nodes and adds the matching toleration to Pods that select Spot;
- `cloud.google.com/compute-class: <class>` picks the class (default: `autopilot`, the
  general-purpose platform);
- a preempted Spot Pod gets at most 25 s of grace (Autopilot's Spot Pods), not Standard's 15.

The nodes' machine types are GKE's choice, so fit and packing skip these pools.
"""

from __future__ import annotations

from ._documents import ClusterDoc, Documents, Pool
from ._scheduling import NodeTaint, required_expressions

# node labels Autopilot provisions to match what a Pod selects (its compute classes' documented
# selectors: machine series on Performance, GPU type and count on Accelerator, TPU, Arm, zone)
PROVISIONED = (
    "cloud.google.com/machine-family",
    "cloud.google.com/gke-accelerator",
    "cloud.google.com/gke-accelerator-count",
    "cloud.google.com/gke-tpu-accelerator",
    "cloud.google.com/gke-tpu-topology",
    "kubernetes.io/arch",
    "topology.kubernetes.io/zone",
)
CLASS_LABEL = "cloud.google.com/compute-class"
SPOT_LABEL = "cloud.google.com/gke-spot"
DEFAULT_CLASS = "autopilot"
SPOT_GRACE_SECONDS = 25  # "up to 25 seconds" of grace for Autopilot Spot Pods on preemption


def _classes(clusters: list[ClusterDoc]) -> list[str]:
    found = {DEFAULT_CLASS}
    for cluster in clusters:
        for _, group, _ in cluster.groups():
            spec = (group.get("template") or {}).get("spec") or {}
            selector = spec.get("nodeSelector") or {}
            if isinstance(selector, dict) and isinstance(selector.get(CLASS_LABEL), str):
                found.add(selector[CLASS_LABEL])
            for expr in required_expressions(spec):  # node affinity: its class expressions
                if expr.get("key") == CLASS_LABEL and expr.get("operator") == "In":
                    found.update(v for v in expr.get("values") or [] if isinstance(v, str))
    return sorted(found)


def autopilot_pools(clusters: list[ClusterDoc]) -> list[Pool]:
    """One on-demand and one Spot virtual pool per compute class in sight."""
    pools = []
    for cls in _classes(clusters):
        for spot in (False, True):
            pools.append(
                Pool(
                    name=f"autopilot/{cls}/{'spot' if spot else 'on-demand'}",
                    file="--autopilot",
                    line=None,
                    machine_type=None,
                    spot=spot,
                    taints=(NodeTaint(SPOT_LABEL, "true", "NoSchedule"),) if spot else (),
                    labels={CLASS_LABEL: cls},
                    kubelet_shutdown_grace=SPOT_GRACE_SECONDS if spot else None,
                    kubelet_critical_grace=0 if spot else None,
                    autopilot=True,
                )
            )
    return pools


def use_autopilot(docs: Documents) -> None:
    """Check the documents as an Autopilot cluster's: its virtual pools join the pools read."""
    docs.autopilot = True
    docs.pools_given = True
    docs.pools.extend(autopilot_pools(docs.clusters))


def provisioned_labels(scheduling: dict) -> dict[str, str]:
    """The labels an Autopilot node gets because the Pod selects them (nodeSelector, or the
    first value of a required `In` expression)."""
    out: dict[str, str] = {}
    for e in required_expressions(scheduling):
        values = e.get("values") or []
        if e.get("key") in PROVISIONED and e.get("operator") == "In" and values:
            out[e["key"]] = str(values[0])
    selector = scheduling.get("nodeSelector") or {}
    if isinstance(selector, dict):
        out.update({k: str(v) for k, v in selector.items() if k in PROVISIONED})
    return out
