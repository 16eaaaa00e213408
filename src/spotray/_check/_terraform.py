"""Terraform → the node pools `spotray check` reads.

Three ways real code declares GKE node pools, all read here:

- `resource "google_container_node_pool"` (with `count`, `for_each`, `dynamic` blocks);
- inline `node_pool {}` blocks of `resource "google_container_cluster"`;
- the `terraform-google-modules/kubernetes-engine/google` module (its root and its
  `private-cluster`/`beta-*` variants), whose `node_pools` list of maps becomes one pool per map
  with the module's own defaults (as its `cluster.tf` applies them: machine type `e2-medium`,
  `max_count` 100, taints `node_pools_taints["all"]` + per pool, labels likewise).

A whole run's `.tf` files are one module: variables (defaults, `.tfvars`, `--var`) and locals
are shared. What cannot be evaluated is recorded per pool in `Pool.unread`, never guessed.
"""

from __future__ import annotations

import re
from typing import Any

from .._errors import InputError
from .._tfeval import UNKNOWN, Scope, evaluate, expand_resources
from ._documents import Documents, Pool, Unread
from ._scheduling import NodeTaint

PROVIDER_EFFECTS = {
    "NO_SCHEDULE": "NoSchedule",
    "PREFER_NO_SCHEDULE": "PreferNoSchedule",
    "NO_EXECUTE": "NoExecute",
}
GKE_MODULE = re.compile(
    r"^(?:registry\.terraform\.io/)?terraform-google-modules/kubernetes-engine/google"
    r"(?://modules/(?:private-cluster|beta-[a-z-]+))?$"
    r"|github\.com/terraform-google-modules/terraform-google-kubernetes-engine"
)
DEFAULT_MACHINE = "e2-medium"  # the provider's default, and the module's (cluster.tf)
MODULE_DEFAULT_MAX_COUNT = 100  # the module's cluster.tf: lookup(..., "max_count", 100)


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
    return {name: evaluate(value, Scope()) for name, value in document.items() if name[:2] != "__"}


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


def _line_of(text: str, pattern: str, start: int = 0) -> int | None:
    match = re.compile(pattern).search(text, start)
    return text[: match.start()].count("\n") + 1 if match else None


def _lines_of_block(text: str, header: str) -> tuple[int | None, dict[str, int]]:
    """The line of the block whose header matches `header`, and of each attribute inside it."""
    match = re.search(header, text)
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


def _taints(raw: Any) -> tuple[NodeTaint, ...] | None:
    """Provider taint blocks (or the module's taint maps) → NodeTaints; None if unknown."""
    if raw is UNKNOWN or not isinstance(raw, list):
        return None  # e.g. a `dynamic "taint"` over unknown input: unknown, never "none"
    out = []
    for t in raw:
        if not isinstance(t, dict) or any(t.get(k) is UNKNOWN for k in ("key", "value", "effect")):
            return None
        effect = str(t.get("effect", ""))
        value = t.get("value", "")
        value = str(value).lower() if isinstance(value, bool) else str(value)  # HCL's true
        out.append(NodeTaint(str(t.get("key", "")), value, PROVIDER_EFFECTS.get(effect, effect)))
    return tuple(out)


def _region(location: Any) -> str | None:
    if not isinstance(location, str):
        return None
    return location if re.match(r"^[a-z]+-[a-z]+\d+$", location) else location.rsplit("-", 1)[0]


def _unread(**values: Any) -> tuple[str, ...]:
    """The names of the fields whose value could not be evaluated."""

    def unknown(value: Any) -> bool:
        if value is UNKNOWN:
            return True
        if isinstance(value, dict):
            return any(unknown(v) for v in value.values())
        if isinstance(value, list):
            return any(unknown(v) for v in value)
        return False

    return tuple(name for name, value in values.items() if unknown(value))


def pool_from_body(
    body: dict, address: str, file: str, *, line: int | None, lines: dict[str, int], location: Any
) -> Pool:
    """A Pool from an evaluated `google_container_node_pool` body (or inline `node_pool`)."""
    config = first_block(body.get("node_config"))
    machine = (
        UNKNOWN
        if body.get("node_config") is UNKNOWN
        else config.get("machine_type", DEFAULT_MACHINE)
    )
    scaling = first_block(body.get("autoscaling"))
    name = body.get("name")
    if not isinstance(name, str):
        name = address
    spot = config.get("spot", False)
    preemptible = config.get("preemptible", False)
    zones = body.get("node_locations")
    location = body.get("location", location)
    accel = first_block(config.get("guest_accelerator"))
    kubelet = first_block(config.get("kubelet_config"))
    labels = config.get("labels") if isinstance(config.get("labels"), dict) else {}
    metadata_mode = first_block(config.get("workload_metadata_config")).get("mode")
    taints = _taints(config.get("taint", []))
    return Pool(
        name=name,
        file=file,
        line=line,
        machine_type=_known(machine) or None,
        spot=None if UNKNOWN in (spot, preemptible) else bool(spot or preemptible),
        taints=taints,
        labels={str(k): str(v) for k, v in labels.items() if v is not UNKNOWN},
        region=_region(_known(location)),
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
        max_pods=_int(body.get("max_pods_per_node")),
        body=body,
        lines=lines,
        unread=_unread(
            name=body.get("name"),
            machine_type=machine,
            spot=[spot, preemptible],
            taints=None if taints is not None else UNKNOWN,
            labels=labels if "labels" in config else config.get("labels"),
            node_locations=zones,
            location=location,
            autoscaling=[scaling.get("max_node_count"), scaling.get("total_max_node_count")]
            if body.get("autoscaling") is not UNKNOWN
            else UNKNOWN,
            guest_accelerator=[accel.get("type"), accel.get("count")]
            if config.get("guest_accelerator") is not UNKNOWN
            else UNKNOWN,
        ),
    )


def resource_pools(document: dict, text: str, file: str, scope: Scope) -> list[Pool | Unread]:
    """`resource "google_container_node_pool"`, one Pool per instance."""
    pools = []
    for address, body in expand_resources(document, "google_container_node_pool", scope=scope):
        rname = address.split(".", 1)[1].split("[", 1)[0]
        header = rf'resource\s+"google_container_node_pool"\s+"{re.escape(rname)}"'
        line, lines = _lines_of_block(text, header)
        if address.endswith("[*]"):  # instances of an unknown for_each or count
            meta = "for_each" if "for_each" in lines else "count"
            pools.append(Unread(address[:-3], file, lines.get(meta, line), meta))
            continue
        pools.append(pool_from_body(body, address, file, line=line, lines=lines, location=None))
    return pools


def inline_pools(document: dict, text: str, file: str, scope: Scope) -> list[Pool | Unread]:
    """The `node_pool {}` blocks inside `resource "google_container_cluster"` (all but a
    `default-pool` that `remove_default_node_pool = true` deletes)."""
    pools = []
    for address, body in expand_resources(document, "google_container_cluster", scope=scope):
        blocks = body.get("node_pool")
        if blocks is None:
            continue
        rname = address.split(".", 1)[1].split("[", 1)[0]
        header = rf'resource\s+"google_container_cluster"\s+"{re.escape(rname)}"'
        cluster_line, _ = _lines_of_block(text, header)
        if blocks is UNKNOWN:  # a `dynamic "node_pool"` over unknown input
            pools.append(Unread(f"{address}.node_pool", file, cluster_line, "dynamic node_pool"))
            continue
        for block in blocks if isinstance(blocks, list) else []:
            if not isinstance(block, dict):
                continue
            removed = body.get("remove_default_node_pool") is True
            if removed and block.get("name") == "default-pool":
                continue
            name = block.get("name")
            line = cluster_line
            if isinstance(name, str):
                line = _line_of(text, rf'name\s*=\s*"{re.escape(name)}"') or cluster_line
            pools.append(
                pool_from_body(
                    block,
                    f"{address}.node_pool",
                    file,
                    line=line,
                    lines={},
                    location=body.get("location"),
                )
            )
    return pools


def _module_pool(
    item: Any, module: dict, index: int, name_of: str, file: str, line: int | None
) -> Pool | Unread:
    """One map of the kubernetes-engine module's `node_pools`, as its cluster.tf reads it."""
    if not isinstance(item, dict):
        return Unread(f"{name_of}.node_pools[{index}]", file, line, "node_pools")
    name = item.get("name")
    label = name if isinstance(name, str) else f"{name_of}.node_pools[{index}]"

    def per_pool(attr: str, empty: Any) -> Any:
        table = module.get(attr, {"all": empty})
        if table is UNKNOWN or not isinstance(table, dict):
            return UNKNOWN
        own = table.get(name, empty) if isinstance(name, str) else UNKNOWN
        return table.get("all", empty), own

    taint_parts = per_pool("node_pools_taints", [])
    label_parts = per_pool("node_pools_labels", {})
    raw_taints = (
        UNKNOWN
        if taint_parts is UNKNOWN or UNKNOWN in taint_parts
        else [*taint_parts[0], *taint_parts[1]]
    )
    labels: Any = UNKNOWN
    if label_parts is not UNKNOWN and UNKNOWN not in label_parts:
        labels = {"cluster_name": module.get("name", UNKNOWN), "node_pool": name}
        labels.update({**label_parts[0], **label_parts[1]})
    locations = item.get("node_locations", "")
    zones: Any = module.get("zones", UNKNOWN)
    if locations is UNKNOWN or (isinstance(locations, str) and locations):
        zones = locations.split(",") if isinstance(locations, str) else UNKNOWN
    regional = module.get("regional", True)
    if regional is True:
        location = module.get("region", UNKNOWN)
    elif regional is False:
        location = zones[0] if isinstance(zones, list) and zones else UNKNOWN
    else:
        location = UNKNOWN
    node_metadata = item.get("node_metadata", module.get("node_metadata", "GKE_METADATA"))
    metadata_mode: Any = None if node_metadata == "UNSPECIFIED" else node_metadata
    if metadata_mode == "GKE_METADATA_SERVER":
        metadata_mode = "GKE_METADATA"
    accel_count = item.get("accelerator_count", 0)
    autoscaling = item.get("autoscaling", True)
    scaling: Any = []
    if autoscaling is UNKNOWN:
        scaling = UNKNOWN
    elif autoscaling:
        scaling = [
            {
                "max_node_count": item.get("max_count", MODULE_DEFAULT_MAX_COUNT)
                if "total_max_count" not in item
                else None,
                "total_max_node_count": item.get("total_max_count"),
            }
        ]
    body = {
        "name": name,
        "max_pods_per_node": item.get("max_pods_per_node"),
        "node_locations": zones,
        "autoscaling": scaling,
        "node_config": [
            {
                "machine_type": item.get("machine_type", DEFAULT_MACHINE),
                "spot": item.get("spot", False),
                "preemptible": item.get("preemptible", False),
                "taint": raw_taints,
                "labels": labels,
                "guest_accelerator": (
                    [{"type": item.get("accelerator_type", ""), "count": accel_count}]
                    if accel_count is UNKNOWN or accel_count
                    else []
                ),
                **(
                    {"workload_metadata_config": [{"mode": metadata_mode}]} if metadata_mode else {}
                ),
            }
        ],
        **(
            {"placement_policy": [{"tpu_topology": item["tpu_topology"]}]}
            if "tpu_topology" in item
            else {}
        ),
    }
    pool = pool_from_body(body, label, file, line=line, lines={}, location=location)
    pool.body = {}  # not a provider resource: the SR6xx/SR7xx body rules do not apply
    return pool


def module_pools(document: dict, text: str, file: str, scope: Scope) -> list[Pool | Unread]:
    """The `node_pools` of every kubernetes-engine module call in the document."""
    pools = []
    for item in document.get("module", []):
        for raw_name, raw in item.items():
            name = raw_name.strip('"')
            source = evaluate(raw.get("source"), Scope())
            if not isinstance(source, str) or not GKE_MODULE.search(source):
                continue
            module = evaluate({k: v for k, v in raw.items() if k != "source"}, scope)
            header = rf'module\s+"{re.escape(name)}"'
            start = re.search(header, text)
            module_line = _line_of(text, header)
            list_line = _line_of(text, r"\bnode_pools\s*=", start.start() if start else 0)
            node_pools = module.get("node_pools", [])
            where = f"module.{name}"
            if not isinstance(node_pools, list):
                pools.append(
                    Unread(f"{where}.node_pools", file, list_line or module_line, "node_pools")
                )
                continue
            for index, entry in enumerate(node_pools):
                line = list_line or module_line
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    literal = rf'\bname\s*=\s*"{re.escape(entry["name"])}"'
                    line = _line_of(text, literal) or line
                pools.append(_module_pool(entry, module, index, where, file, line))
    return pools


def read_terraform(
    text: str,
    file: str,
    docs: Documents,
    *,
    document: dict | None = None,
    scope: Scope | None = None,
) -> None:
    """Add the node pools of a Terraform file (in its module's scope: by default the file's own
    variable defaults and locals)."""
    from .._tfeval import module_scope

    document = parse_hcl(text, file) if document is None else document
    scope = module_scope([document]) if scope is None else scope
    docs.pools_given = True
    for reader in (resource_pools, inline_pools, module_pools):
        for found in reader(document, text, file, scope):
            (docs.unread if isinstance(found, Unread) else docs.pools).append(found)
