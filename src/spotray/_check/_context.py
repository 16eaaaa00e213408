"""What rules share: the documents, and facts derived from them once (placement, Pod requests)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from .._plan import Resources
from .._quantity import cpu_millis, memory_bytes
from .._yaml import Path
from ._autopilot import SPOT_LABEL, provisioned_labels
from ._documents import ClusterDoc, Documents, Pool
from ._scheduling import can_schedule, selects_spot

GPU = "nvidia.com/gpu"
ZONE = "topology.kubernetes.io/zone"


def pod_spec(group: dict) -> dict:
    template = group.get("template")
    spec = template.get("spec") if isinstance(template, dict) else None
    return spec if isinstance(spec, dict) else {}


def ray_container(group: dict) -> tuple[int, dict] | None:
    """The Ray container (KubeRay's: the first one) and its index."""
    containers = pod_spec(group).get("containers")
    if isinstance(containers, list) and containers and isinstance(containers[0], dict):
        return 0, containers[0]
    return None


def quantity(section: object, name: str, parse) -> int | None:
    if not isinstance(section, dict) or name not in section:
        return None
    try:
        return parse(section[name])
    except (ValueError, TypeError, ArithmeticError):
        return None


def requests_of(container: dict) -> Resources | None:
    """Requests of a container (limits stand in for missing requests, as Kubernetes does)."""
    res = container.get("resources")
    if not isinstance(res, dict):
        return None
    req, lim = res.get("requests"), res.get("limits")
    cpu = quantity(req, "cpu", cpu_millis) or quantity(lim, "cpu", cpu_millis)
    mem = quantity(req, "memory", memory_bytes) or quantity(lim, "memory", memory_bytes)
    gpus = quantity(req, GPU, int) or quantity(lim, GPU, int) or 0
    if cpu is None and mem is None:
        return None
    return Resources(cpu or 0, mem or 0, gpus)


def _max(a: Resources, b: Resources) -> Resources:
    return Resources(
        max(a.cpu_millis, b.cpu_millis), max(a.memory_bytes, b.memory_bytes), max(a.gpus, b.gpus)
    )


def pod_requests(group: dict) -> Resources | None:
    """What the scheduler reserves for the group's Pod: every container's requests plus the
    sidecars' (init containers with `restartPolicy: Always`), or an ordinary init container's
    if larger (Kubernetes' effective Pod request). None if the Ray container states none."""
    found = ray_container(group)
    ray = requests_of(found[1]) if found else None
    if ray is None:
        return None
    spec = pod_spec(group)
    zero = Resources(0, 0, 0)
    total = zero
    for container in spec.get("containers") or []:
        if isinstance(container, dict):
            total += requests_of(container) or zero
    sidecars, init_peak = zero, zero
    for container in spec.get("initContainers") or []:
        if not isinstance(container, dict):
            continue
        own = requests_of(container) or zero
        if container.get("restartPolicy") == "Always":  # a sidecar: runs beside the Pod
            sidecars += own
        else:  # runs to completion before the containers, beside the sidecars started so far
            init_peak = _max(init_peak, own + sidecars)
    return _max(total + sidecars, init_peak)


@dataclass
class Placement:
    """Which pools a group's Pods can land on."""

    pools: list[Pool]
    rejected: dict[str, tuple[str, ...]]  # pool name -> reasons
    unknown: list[str] = field(default_factory=list)


@dataclass
class Context:
    docs: Documents

    @property
    def clusters(self) -> list[ClusterDoc]:
        return self.docs.clusters

    @property
    def pools(self) -> list[Pool]:
        return self.docs.pools

    _placements: dict[str, Placement] = field(default_factory=dict)

    def placement(self, cluster: ClusterDoc, group: dict, path: Path) -> Placement:
        """Which pools the group's Pods can land on (cached by what scheduling reads)."""
        spec = pod_spec(group)
        scheduling = {k: spec.get(k) for k in ("nodeSelector", "affinity", "tolerations")}
        # Pods that request an extended resource (a GPU) get GKE's automatic toleration
        scheduling["containers"] = [
            {"resources": c.get("resources")}
            for c in spec.get("containers") or []
            if isinstance(c, dict)
        ]
        key = json.dumps(scheduling, sort_keys=True, default=str)
        if key not in self._placements:
            self._placements[key] = self._place(scheduling, by_zone=ZONE in key)
        return self._placements[key]

    def _place(self, spec: dict, *, by_zone: bool) -> Placement:
        landed, rejected, unknown = [], {}, []
        autopilot_spot = self.docs.autopilot and selects_spot(spec)
        for pool in self.pools:
            if pool.taints is None:
                unknown.append(f"pool {pool.name!r}: taints unknown")
            # a pool's nodes differ only in their zone label: try each zone only when the
            # Pod's placement mentions zones
            zones = (pool.zones or (None,)) if by_zone else (None,)
            labels = pool.node_labels
            taints = pool.node_taints or ()
            if pool.autopilot:  # nodes made for the Pod: what it selects, Spot tolerated
                labels = {**labels, **provisioned_labels(spec)}
                if autopilot_spot:
                    taints = tuple(t for t in taints if t.key != SPOT_LABEL)
            verdicts = [
                can_schedule(spec, {**labels, **({ZONE: z} if z else {})}, taints) for z in zones
            ]
            verdict = next((v for v in verdicts if v.fits), verdicts[0])
            if verdict.fits:
                landed.append(pool)
            else:
                rejected[pool.name] = verdict.reasons
            unknown.extend(verdict.unknown)
        return Placement(landed, rejected, unknown)


# --- what KubeRay derives from a RayCluster spec (its utils: IsAutoscalingEnabled & co.) ---

V2_ENV = "RAY_enable_autoscaler_v2"
FT_ANNOTATION = "ray.io/ft-enabled"


def env_of(container: dict | None) -> dict[str, object]:
    """A container's env as name -> value (valueFrom counts as set, with value None)."""
    env = container.get("env") if isinstance(container, dict) else None
    out: dict[str, object] = {}
    for item in env if isinstance(env, list) else []:
        if isinstance(item, dict) and "name" in item:
            out[str(item["name"])] = item.get("value")
    return out


def head_env(spec: dict) -> dict[str, object]:
    """The head's Ray container env as KubeRay reads it (EnvVarByName: the first entry of a
    repeated name)."""
    head = spec.get("headGroupSpec")
    found = ray_container(head) if isinstance(head, dict) else None
    env = found[1].get("env") if found else None
    out: dict[str, object] = {}
    for item in env if isinstance(env, list) else []:
        if isinstance(item, dict) and "name" in item:
            out.setdefault(str(item["name"]), item.get("value"))
    return out


def autoscaling_enabled(spec: dict) -> bool:
    return spec.get("enableInTreeAutoscaling") is True


def autoscaler_v2_option(spec: dict) -> bool:
    """`autoscalerOptions.version: v2` (KubeRay's IsAutoscalingV2Enabled)."""
    options = spec.get("autoscalerOptions")
    return isinstance(options, dict) and options.get("version") == "v2"


def autoscaler_v2(spec: dict) -> bool:
    """Autoscaler v2 by either switch: `autoscalerOptions.version: v2`, or the head's
    RAY_enable_autoscaler_v2 set to exactly `1` or `true` (KubeRay compares exactly)."""
    return autoscaler_v2_option(spec) or head_env(spec).get(V2_ENV) in ("1", "true")


def annotations_of(cluster: ClusterDoc) -> dict:
    meta = cluster.doc.data.get("metadata") if isinstance(cluster.doc.data, dict) else None
    notes = meta.get("annotations") if isinstance(meta, dict) else None
    return notes if isinstance(notes, dict) else {}


def gcs_ft_enabled(cluster: ClusterDoc) -> bool:
    ft = str(annotations_of(cluster).get(FT_ANNOTATION, "")).lower() == "true"
    return ft or cluster.spec.get("gcsFaultToleranceOptions") is not None


def as_int(value: object) -> int | None:
    """`value` if it is a YAML integer (not a bool, not a string), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class Group(NamedTuple):
    """One group of one RayCluster: the head (named 'head') or a worker group. Unpacks as
    `cluster, name, spec, path`."""

    cluster: ClusterDoc
    name: str
    spec: dict
    path: Path

    @property
    def head(self) -> bool:
        return self.path[-1] == "headGroupSpec"

    def at(self, *parts: str | int) -> Path:
        return (*self.path, *parts)

    @property
    def label(self) -> str:
        """How messages name the group: `RayCluster 'x' group 'small'`."""
        return f"{self.cluster.kind} {self.cluster.name!r} group {self.name!r}"


def terraform_pools(ctx: Context) -> Iterator[Pool]:
    """The pools read from Terraform (their evaluated `body` is what Terraform rules check)."""
    return (pool for pool in ctx.pools if pool.body)


def groups(
    ctx: Context, *, workers: bool = False, cluster: ClusterDoc | None = None
) -> Iterator[Group]:
    """Every group of every cluster (or of `cluster`); only worker groups with `workers=True`."""
    for doc in ctx.clusters if cluster is None else (cluster,):
        for name, spec, path in doc.groups():
            group = Group(doc, name, spec, path)
            if not (workers and group.head):
                yield group


def ray_containers(ctx: Context, *, workers: bool = False) -> Iterator[tuple]:
    """(cluster, name, group, path, index, container) for every group that has a Ray container."""
    for cluster, name, group, path in groups(ctx, workers=workers):
        found = ray_container(group)
        if found is not None:
            yield cluster, name, group, path, *found
