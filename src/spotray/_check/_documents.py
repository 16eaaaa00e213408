"""The documents `spotray check` reads: RayClusters (also inside RayJob/RayService) and GKE node
pools (Terraform via `_terraform`, pool files, `--pool` flags). Rules see only these, so generated
and hand-written input are checked alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .._errors import InputError
from .._plan import (
    GKE_DEFAULT_MAX_PODS,
    MachineType,
    Resources,
    allocatable,
    catalog,
    daemonset_overhead,
)
from .._plan._model import TPU_RESOURCE, gke_node_labels, gke_tpu_labels
from .._yaml import Document, Path, load_documents
from ._kuberay import default_gates
from ._scheduling import UNKNOWN_LABEL, NodeTaint

GPU = "nvidia.com/gpu"
WI_LABEL = "iam.gke.io/gke-metadata-server-enabled"

RAY_KINDS = {
    "RayCluster": ("spec",),
    "RayJob": ("spec", "rayClusterSpec"),
    "RayService": ("spec", "rayClusterConfig"),
    "RayCronJob": ("spec", "jobTemplate", "rayClusterSpec"),
}


@dataclass
class ClusterDoc:
    """A RayCluster spec inside a located YAML document."""

    doc: Document
    kind: str
    name: str
    prefix: Path  # where the RayCluster spec sits in the document

    @property
    def file(self) -> str:
        return self.doc.file

    @property
    def spec(self) -> dict:
        value: Any = self.doc.data
        for part in self.prefix:
            value = value.get(part, {}) if isinstance(value, dict) else {}
        return value if isinstance(value, dict) else {}

    def at(self, *parts: str | int) -> Path:
        """The document path of `parts` below the RayCluster spec."""
        return (*self.prefix, *parts)

    def groups(self) -> list[tuple[str, dict, Path]]:
        """(name, group spec, path) for the head (named 'head') and every worker group."""
        out: list[tuple[str, dict, Path]] = []
        head = self.spec.get("headGroupSpec")
        if isinstance(head, dict):
            out.append(("head", head, self.at("headGroupSpec")))
        workers = self.spec.get("workerGroupSpecs")
        if isinstance(workers, list):
            for i, group in enumerate(workers):
                if isinstance(group, dict):
                    name = group.get("groupName")
                    out.append(
                        (
                            str(name) if name else f"workerGroupSpecs[{i}]",
                            group,
                            self.at("workerGroupSpecs", i),
                        )
                    )
        return out


@dataclass
class Pool:
    """A GKE node pool as far as the input says; `None` where it does not (or cannot) say."""

    name: str
    file: str
    line: int | None
    machine_type: str | None
    spot: bool | None
    taints: tuple[NodeTaint, ...] | None  # None: unknown
    labels: dict[str, str] = field(default_factory=dict)  # user labels on the nodes
    region: str | None = None
    zones: tuple[str, ...] | None = None
    gpu_type: str | None = None
    gpu_count: int = 0
    max_nodes_per_zone: int | None = None
    total_max_nodes: int | None = None
    kubelet_shutdown_grace: int | None = None
    kubelet_critical_grace: int | None = None
    workload_identity: bool = True
    preemptible: bool = False  # a preemptible pool (then `spot` is True too: it is reclaimable)
    gke_metadata: bool | None = None  # mode GKE_METADATA; None: unset (the cluster's default)
    tpu_topology: str | None = None  # placement_policy.tpu_topology (multi-host TPU slices)
    body: dict = field(default_factory=dict)  # the evaluated Terraform body (Terraform rules)
    lines: dict[str, int] = field(default_factory=dict)  # attribute -> line, where known
    unread: tuple[str, ...] = ()  # Terraform fields that could not be evaluated (see SR003)
    max_pods: int | None = None  # max_pods_per_node; None: GKE's default
    daemonsets: Resources | None = None  # system DaemonSets' requests; None: the plan's model
    autopilot: bool = False  # a virtual pool of GKE Autopilot (see _autopilot)

    @property
    def machine(self) -> MachineType | None:
        return catalog().machine(self.machine_type) if self.machine_type else None

    @property
    def node_labels(self) -> dict[str, str]:
        """Every label GKE puts on the pool's nodes (the zone label varies; see `zones`);
        UNKNOWN_LABEL where the input cannot say."""
        labels = {**gke_tpu_labels(self.machine_type, self.tpu_topology), **self._gke_labels()}
        if self.gke_metadata is None:
            labels.setdefault(WI_LABEL, UNKNOWN_LABEL)
        return labels

    def _gke_labels(self) -> dict[str, str]:
        machine = self.machine
        bundled = machine.bundled_gpus[0][0] if machine and machine.bundled_gpus else None
        return gke_node_labels(
            pool=self.name,
            machine=machine,
            region=self.region,
            spot=self.spot,
            gpu_type=self.gpu_type or bundled,
            extra=self.labels,
            preemptible=self.preemptible,
            gke_metadata=bool(self.gke_metadata),
        )

    @property
    def node_taints(self) -> tuple[NodeTaint, ...] | None:
        """The pool's taints and those GKE adds to GPU and TPU nodes (`nvidia.com/gpu=present:
        NoSchedule`, `google.com/tpu=present:NoSchedule`), which Pods that request the device
        tolerate automatically."""
        if self.taints is None:
            return None
        added = []
        if self.gpus:
            added.append(GPU)
        if gke_tpu_labels(self.machine_type, None):
            added.append(TPU_RESOURCE)
        keys = {t.key for t in self.taints}
        return (
            *self.taints,
            *(NodeTaint(k, "present", "NoSchedule") for k in added if k not in keys),
        )

    @property
    def gpus(self) -> int:
        machine = self.machine
        if self.gpu_count:
            return self.gpu_count
        return machine.bundled_gpus[0][1] if machine and machine.bundled_gpus else 0

    @property
    def available(self) -> Resources | None:
        """What one node offers Ray Pods: the plan's allocatable model less DaemonSets."""
        machine = self.machine
        if machine is None:
            return None
        node = allocatable(machine.vcpus, machine.memory_mib, self.gpus)
        daemonsets = self.daemonsets or daemonset_overhead(workload_identity=self.workload_identity)
        return node - daemonsets

    @property
    def pods_limit(self) -> int:
        """The most Pods a node of the pool runs (max_pods_per_node, else GKE's default)."""
        return self.max_pods or GKE_DEFAULT_MAX_PODS

    @property
    def max_nodes(self) -> int | None:
        if self.total_max_nodes is not None:
            return self.total_max_nodes
        if self.max_nodes_per_zone is not None and self.zones:
            return self.max_nodes_per_zone * len(self.zones)
        return None


@dataclass
class Unread:
    """Node pools the Terraform declares but spotray could not enumerate: a module's unknown
    `node_pools` list, a `for_each` or `count` over unknown input, a `dynamic "node_pool"`."""

    name: str  # what holds them, e.g. module.gke.node_pools
    file: str
    line: int | None
    what: str  # the expression that could not be evaluated, e.g. node_pools, for_each


@dataclass
class RayObject:
    """A RayCluster, RayJob or RayService document, with or without a cluster spec in it."""

    doc: Document
    kind: str
    name: str

    @property
    def data(self) -> dict:
        return self.doc.data if isinstance(self.doc.data, dict) else {}

    @property
    def spec(self) -> dict:
        spec = self.data.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def metadata(self) -> dict:
        meta = self.data.get("metadata")
        return meta if isinstance(meta, dict) else {}


@dataclass
class Documents:
    """Everything one `spotray check` run reads."""

    clusters: list[ClusterDoc] = field(default_factory=list)
    pools: list[Pool] = field(default_factory=list)
    pools_given: bool = False  # any pool source was given (Terraform, --pool, spec)
    unread: list[Unread] = field(default_factory=list)  # pools that could not be enumerated
    autopilot: bool = False  # an Autopilot cluster: pools are Autopilot's virtual ones
    without_ray: list[str] = field(default_factory=list)  # manifests with no Ray kind in them
    network_policies: list[Document] = field(default_factory=list)  # networking.k8s.io/v1
    service_accounts: list[Document] = field(default_factory=list)  # v1 ServiceAccount
    ray_objects: list[RayObject] = field(default_factory=list)  # every RayCluster/Job/Service
    # the KubeRay operator's feature gates (`--kuberay-feature-gates`; 1.7's defaults)
    gates: dict[str, bool] = field(default_factory=default_gates)


def read_yaml(text: str, file: str, docs: Documents) -> None:
    """Add the RayClusters of a (multi-document) YAML file."""
    found = 0
    for doc in load_documents(text, file=file):
        data = doc.data
        if not isinstance(data, dict):
            raise InputError(f"{file}: a Kubernetes manifest must be a YAML mapping")
        kind = data.get("kind")
        if kind in RAY_KINDS:
            found += 1
            api = str(data.get("apiVersion", ""))
            if not api.startswith("ray.io/"):
                raise InputError(f"{file}: {kind} with apiVersion {api!r}; expected ray.io/v1")
            prefix = RAY_KINDS[kind]
            name = (
                data.get("metadata", {}).get("name", "")
                if isinstance(data.get("metadata"), dict)
                else ""
            )
            docs.ray_objects.append(RayObject(doc=doc, kind=kind, name=str(name)))
            holder = data
            for part in prefix[:-1]:
                holder = holder.get(part) if isinstance(holder, dict) else None
            if kind != "RayCluster" and not (
                isinstance(holder, dict) and holder.get(prefix[-1]) is not None
            ):
                continue  # a RayJob that selects an existing cluster (a null is pruned)
            docs.clusters.append(ClusterDoc(doc=doc, kind=kind, name=str(name), prefix=prefix))
        elif kind == "NetworkPolicy" and str(data.get("apiVersion", "")).startswith(
            "networking.k8s.io/"
        ):
            docs.network_policies.append(doc)
        elif kind == "ServiceAccount" and data.get("apiVersion") == "v1":
            docs.service_accounts.append(doc)
        elif kind is None and "nodePools" in data:
            read_pool_file(doc, docs)
            found += 1
        elif kind is None or "apiVersion" not in data:
            raise InputError(f"{file}: a document without `kind` or `apiVersion`")
        elif str(data.get("apiVersion", "")).startswith("ray.io/"):
            raise InputError(f"{file}: unknown kind {kind!r} of {data['apiVersion']}")
    if not found:
        docs.without_ray.append(file)


POOL_KEYS = {
    "name": "the GKE node pool name (required)",
    "machine": "machine type, e.g. e2-standard-4",
    "spot": "true for a Spot pool (default false)",
    "taint": "key[=value]:Effect, repeatable (taints: a list in YAML)",
    "label": "key=value node label, repeatable (labels: a mapping in YAML)",
    "zones": "zones the pool's nodes run in (';'-separated in a flag)",
    "region": "the pool's region (default: from the zones)",
    "max_nodes": "most nodes the pool autoscales to, over all zones",
    "gpu": "accelerator type, e.g. nvidia-tesla-t4",
    "gpus": "accelerators per node (default 1 with gpu)",
}
_TAINT = re.compile(r"^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$")


def pool_from_fields(fields: dict[str, Any], where: str, *, file: str, line: int | None) -> Pool:
    """A Pool from a `--pool` flag's or a pool file's fields; `where` prefixes errors."""

    def bad(key: str, why: str) -> InputError:
        return InputError(f"{where}: {key}: {why}")

    unknown = sorted(set(fields) - set(POOL_KEYS) - {"taints", "labels", "maxNodes"})
    if unknown:
        raise bad(unknown[0], f"unknown key; known: {', '.join(sorted(POOL_KEYS))}")
    name = fields.get("name")
    if not isinstance(name, str) or not name:
        raise bad("name", "required (a string)")
    taints = []
    for taint in _as_list(fields.get("taint", fields.get("taints", []))):
        m = _TAINT.match(str(taint))
        if not m:
            raise bad("taint", f"{taint!r} is not key[=value]:Effect")
        taints.append(NodeTaint(m[1], m[2] or "", m[3]))
    labels = fields.get("labels", {})
    if not isinstance(labels, dict):
        raise bad("labels", "must be a mapping")
    labels = {str(k): str(v) for k, v in labels.items()}
    for label in _as_list(fields.get("label", [])):
        key, sep, val = str(label).partition("=")
        if not sep:
            raise bad("label", f"{label!r} is not key=value")
        labels[key] = val
    spot = str(fields.get("spot", "false")).lower()
    if spot not in ("true", "false"):
        raise bad("spot", "must be true or false")
    machine = fields.get("machine")  # an unknown type is SR004's to report, not bad input
    zones = fields.get("zones")
    if isinstance(zones, str):
        zones = zones.split(";")
    if zones is not None and not isinstance(zones, list):
        raise bad("zones", "must be a list of zone names")
    region = fields.get("region")
    if region is None and zones:
        region = str(zones[0]).rsplit("-", 1)[0]
    counts = {}
    for key in ("max_nodes", "gpus"):
        raw = fields.get(key, fields.get("maxNodes") if key == "max_nodes" else None)
        if raw is None:
            continue
        try:
            counts[key] = int(str(raw))
        except ValueError:
            raise bad(key, f"{raw!r} is not a whole number") from None
        if counts[key] < 0:
            raise bad(key, "must not be negative")
    gpu = fields.get("gpu")
    return Pool(
        name=name,
        file=file,
        line=line,
        machine_type=str(machine) if machine is not None else None,
        spot=spot == "true",
        taints=tuple(taints),
        labels=labels,
        region=str(region) if region else None,
        zones=tuple(str(z) for z in zones) if zones else None,
        gpu_type=str(gpu) if gpu else None,
        gpu_count=counts.get("gpus", 1 if gpu else 0),
        total_max_nodes=counts.get("max_nodes"),
    )


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def parse_pool_flag(value: str) -> Pool:
    """`name=small-worker,machine=e2-standard-2,spot=true,taint=k=v:NoSchedule,zones=a;b`."""
    fields: dict[str, Any] = {}
    for part in value.split(","):
        key, sep, val = part.partition("=")
        if not sep:
            raise InputError(f"--pool {value!r}: {part!r} is not key=value")
        key, val = key.strip(), val.strip()
        if key in ("taint", "label"):
            fields.setdefault(key, []).append(val)
        elif key in fields:
            raise InputError(f"--pool {value!r}: {key}: given twice")
        else:
            fields[key] = val
    return pool_from_fields(fields, f"--pool {value!r}", file="--pool", line=None)


def read_pool_file(doc: Document, docs: Documents) -> None:
    """A pool description: `nodePools: [{name: ..., machine: ..., spot: ..., taints: [...]}]`."""
    items = doc.data.get("nodePools")
    if not isinstance(items, list):
        raise InputError(f"{doc.file}:{doc.locate(('nodePools',))[0]}: nodePools must be a list")
    for i, item in enumerate(items):
        line, column = doc.locate(("nodePools", i))
        where = f"{doc.file}:{line}:{column}: nodePools[{i}]"
        if not isinstance(item, dict):
            raise InputError(f"{where}: must be a mapping")
        docs.pools.append(pool_from_fields(item, where, file=doc.file, line=line))
    docs.pools_given = True
