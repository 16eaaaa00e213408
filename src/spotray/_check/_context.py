"""What rules share: the documents, and facts derived from them once (placement, Pod requests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._plan import Resources
from .._quantity import cpu_millis, memory_bytes
from .._yaml import Path
from ._documents import ClusterDoc, Documents, Pool
from ._scheduling import can_schedule

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

    _placements: dict[tuple[int, Path], Placement] = field(default_factory=dict)

    def placement(self, cluster: ClusterDoc, group: dict, path: Path) -> Placement:
        key = (id(cluster), path)
        if key not in self._placements:
            spec = pod_spec(group)
            landed, rejected, unknown = [], {}, []
            for pool in self.pools:
                if pool.taints is None:
                    unknown.append(f"pool {pool.name!r}: taints unknown")
                zones = pool.zones or (None,)
                verdicts = [
                    can_schedule(
                        spec,
                        {**pool.node_labels, **({ZONE: z} if z else {})},
                        pool.taints or (),
                    )
                    for z in zones
                ]
                verdict = next((v for v in verdicts if v.fits), verdicts[0])
                if verdict.fits:
                    landed.append(pool)
                else:
                    rejected[pool.name] = verdict.reasons
                unknown.extend(verdict.unknown)
            self._placements[key] = Placement(landed, rejected, unknown)
        return self._placements[key]
