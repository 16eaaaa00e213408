"""The documents `spotray check` reads: RayClusters (also inside RayJob/RayService) and GKE node
pools (Terraform, `--pool` flags). Rules see only these, so generated and hand-written input are
checked alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from .._errors import InputError
from .._io import read_input
from .._plan import MachineType, Resources, allocatable, catalog, daemonset_overhead
from .._plan._model import TPU_RESOURCE, gke_node_labels, gke_tpu_labels
from .._tfeval import UNKNOWN, Scope, evaluate, expand_resources, variable_defaults
from .._yaml import Document, Path, load_documents
from ._scheduling import UNKNOWN_LABEL, NodeTaint

GPU = "nvidia.com/gpu"
WI_LABEL = "iam.gke.io/gke-metadata-server-enabled"

RAY_KINDS = {
    "RayCluster": ("spec",),
    "RayJob": ("spec", "rayClusterSpec"),
    "RayService": ("spec", "rayClusterConfig"),
}
PROVIDER_EFFECTS = {
    "NO_SCHEDULE": "NoSchedule",
    "PREFER_NO_SCHEDULE": "PreferNoSchedule",
    "NO_EXECUTE": "NoExecute",
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
        return node - daemonset_overhead(workload_identity=self.workload_identity)

    @property
    def max_nodes(self) -> int | None:
        if self.total_max_nodes is not None:
            return self.total_max_nodes
        if self.max_nodes_per_zone is not None and self.zones:
            return self.max_nodes_per_zone * len(self.zones)
        return None


@dataclass
class Documents:
    """Everything one `spotray check` run reads."""

    clusters: list[ClusterDoc] = field(default_factory=list)
    pools: list[Pool] = field(default_factory=list)
    pools_given: bool = False  # any pool source was given (Terraform, --pool, spec)
    without_ray: list[str] = field(default_factory=list)  # manifests with no Ray kind in them
    network_policies: list[Document] = field(default_factory=list)  # networking.k8s.io/v1
    service_accounts: list[Document] = field(default_factory=list)  # v1 ServiceAccount


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
            holder = data.get("spec")
            if kind != "RayCluster" and not (isinstance(holder, dict) and prefix[-1] in holder):
                continue  # a RayJob that selects an existing cluster
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


def _lines_of_resource(text: str, rname: str) -> tuple[int | None, dict[str, int]]:
    match = re.search(rf'resource\s+"google_container_node_pool"\s+"{re.escape(rname)}"', text)
    if not match:
        return None, {}
    start = text[: match.start()].count("\n") + 1
    lines: dict[str, int] = {}
    depth = 0
    for offset, line in enumerate(text[match.start() :].splitlines()):
        depth += line.count("{") - line.count("}")
        attr = re.match(r"\s*([a-z_]+)\s*[={]", line)
        if attr and attr[1] not in lines:
            lines[attr[1]] = start + offset
        if offset and depth <= 0:
            break
    return start, lines


def first_block(block: Any) -> dict:
    """The body of the first block of a python-hcl2 block list (`{}` if none)."""
    if isinstance(block, list) and block and isinstance(block[0], dict):
        return block[0]
    return {}


def _known(value: Any) -> Any:
    return None if value is UNKNOWN else value


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not UNKNOWN and value is not None else None
    except (TypeError, ValueError):
        return None


def pool_from_terraform(body: dict, address: str, file: str, text: str) -> Pool:
    rname = address.split(".", 1)[1].split("[", 1)[0]
    line, lines = _lines_of_resource(text, rname)
    config = first_block(body.get("node_config"))
    scaling = first_block(body.get("autoscaling"))
    name = body.get("name")
    if not isinstance(name, str):
        name = address
    taints: tuple[NodeTaint, ...] | None = ()
    raw_taints = config.get("taint", [])
    dynamic = config.get("dynamic")
    dynamic_taint = isinstance(dynamic, list) and any(
        isinstance(d, dict) and "taint" in d for d in dynamic
    )
    if raw_taints is UNKNOWN or not isinstance(raw_taints, list) or dynamic_taint:
        taints = None  # a `dynamic "taint"` block: taints unknown, never "no taints"
    else:
        out = []
        for t in raw_taints:
            if not isinstance(t, dict) or any(
                t.get(k) is UNKNOWN for k in ("key", "value", "effect")
            ):
                taints = None
                break
            effect = str(t.get("effect", ""))
            value = t.get("value", "")
            value = str(value).lower() if isinstance(value, bool) else str(value)  # HCL's true
            out.append(
                NodeTaint(str(t.get("key", "")), value, PROVIDER_EFFECTS.get(effect, effect))
            )
        else:
            taints = tuple(out)
    spot = config.get("spot", False)
    preemptible = config.get("preemptible", False)
    spot_value = None if UNKNOWN in (spot, preemptible) else bool(spot or preemptible)
    zones = body.get("node_locations")
    location = _known(body.get("location"))
    region = None
    if isinstance(location, str):
        region = (
            location if re.match(r"^[a-z]+-[a-z]+\d+$", location) else location.rsplit("-", 1)[0]
        )
    accel = first_block(config.get("guest_accelerator"))
    kubelet = first_block(config.get("kubelet_config"))
    labels = config.get("labels") if isinstance(config.get("labels"), dict) else {}
    metadata_mode = first_block(config.get("workload_metadata_config")).get("mode")
    return Pool(
        name=name,
        file=file,
        line=line,
        machine_type=_known(config.get("machine_type")) or None,
        spot=spot_value,
        taints=taints,
        labels={str(k): str(v) for k, v in labels.items() if v is not UNKNOWN},
        region=region,
        zones=tuple(zones) if isinstance(zones, list) and UNKNOWN not in zones else None,
        gpu_type=_known(accel.get("type")) if _int(accel.get("count")) else None,
        gpu_count=_int(accel.get("count")) or 0,
        max_nodes_per_zone=_int(scaling.get("max_node_count")),
        total_max_nodes=_int(scaling.get("total_max_node_count")),
        kubelet_shutdown_grace=_int(kubelet.get("shutdown_grace_period_seconds")),
        kubelet_critical_grace=_int(kubelet.get("shutdown_grace_period_critical_pods_seconds")),
        workload_identity=metadata_mode != "GCE_METADATA",
        preemptible=preemptible is True,
        gke_metadata=None if metadata_mode in (None, UNKNOWN) else metadata_mode == "GKE_METADATA",
        tpu_topology=_known(first_block(body.get("placement_policy")).get("tpu_topology")) or None,
        body=body,
        lines=lines,
    )


def parse_hcl(text: str, file: str) -> dict:
    """python-hcl2's reading of a Terraform file; InputError naming the file if it is not HCL."""
    import hcl2  # lazily: only `check` on Terraform input needs the parser

    try:
        return hcl2.loads(text)
    except Exception as exc:  # python-hcl2 raises lark's exceptions, and others
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{file}: invalid HCL: {message}") from None


def tfvars_values(document: dict) -> dict[str, Any]:
    """A `.tfvars` file's `name = value` assignments, evaluated (literals and templates)."""
    return {name: evaluate(value, Scope()) for name, value in document.items()}


def read_terraform(
    text: str,
    file: str,
    docs: Documents,
    *,
    document: dict | None = None,
    variables: dict[str, Any] | None = None,
) -> None:
    """Add the `google_container_node_pool` resources of a Terraform file (its variables: the
    run's, else the file's own defaults)."""
    document = parse_hcl(text, file) if document is None else document
    docs.pools_given = True
    for address, body in expand_resources(
        document, "google_container_node_pool", variables=variables
    ):
        docs.pools.append(pool_from_terraform(body, address, file, text))


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
    machine = fields.get("machine")
    if machine is not None and catalog().machine(str(machine)) is None:
        raise bad("machine", f"unknown machine type {machine!r}")
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


TFVARS_SUFFIXES = (".tfvars",)


def _expand_dirs(paths: list[str]) -> list[str]:
    """A directory stands for its Terraform module as Terraform reads it: its `*.tf` files,
    then `terraform.tfvars`, then `*.auto.tfvars` in name order."""
    out = []
    for name in paths:
        folder = FsPath(name)
        if not folder.is_dir():
            out.append(name)
            continue
        files = sorted(folder.glob("*.tf"))
        tfvars = folder / "terraform.tfvars"
        files += [tfvars] if tfvars.is_file() else []
        files += sorted(folder.glob("*.auto.tfvars"))
        if not files:
            raise InputError(f"{name}: a directory without Terraform files (*.tf, *.tfvars)")
        out += [str(f) for f in files]
    return out


def read_paths(paths: list[str]) -> Documents:
    """Read every file: `.tf` as Terraform, `.tfvars` as variable values, anything else as YAML
    manifests; a directory as a Terraform module. The Terraform files of one run are one
    module: variables declared in any of them, with their defaults, overridden by the
    `.tfvars` files in the order given, as `terraform plan -var-file` would."""
    docs = Documents()
    terraform: list[tuple[str, str, dict]] = []
    values: dict[str, Any] = {}
    for name in _expand_dirs(paths):
        text = read_input(name)
        if FsPath(name).suffix == ".tf":
            terraform.append((name, text, parse_hcl(text, name)))
        elif name.endswith(TFVARS_SUFFIXES):
            values.update(tfvars_values(parse_hcl(text, name)))
        else:
            read_yaml(text, name, docs)
    variables: dict[str, Any] = {}
    for _, _, document in terraform:
        variables.update(variable_defaults(document))
    variables.update(values)
    for name, text, document in terraform:
        read_terraform(text, name, docs, document=document, variables=variables)
    return docs
