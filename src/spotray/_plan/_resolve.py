"""Spec → Plan: resolve machine types, zones, allocatable, pods per node, taints, labels, prices.

Every problem that needs facts to be seen (an unknown machine type, a GPU the machine cannot take,
a Pod that fits no node) is reported here, located in the spec, all at once.
"""

from __future__ import annotations

from .._errors import Problem, SpecError
from .._quantity import cpu_millis, memory_bytes
from .._rayresources import shortfall
from .._spec import Spec, located
from .._spec._models import PoolOptions, WorkerGroup, _GroupBase
from .._yaml import Document
from ._allocatable import Resources, allocatable, capacity, daemonset_overhead
from ._catalog import GPU_PRICES, ZONES, MachineType, Price, catalog, gpu_problem, price_source
from ._model import (
    DEFAULT_ACCELERATOR_FALLBACK_SECONDS,
    DEFAULT_FALLBACK_SECONDS,
    GKE_CRITICAL_PODS_SECONDS,
    GKE_SPOT_NODE_GRACE_SECONDS,
    GPU_TAINT_KEY,
    NODE_ACCOUNT_REFERENCE,
    RAY_DEFAULT_IDLE_TIMEOUT_SECONDS,
    Autoscaling,
    Fallback,
    NetworkClient,
    NodePool,
    Plan,
    PodShape,
    RayGroup,
    Security,
    Shutdown,
    Taint,
    gke_node_labels,
    node_account_id,
    pods_fitting,
)

# Defaults for every pool setting (the seed article's values, where it sets one).
POOL_DEFAULTS = PoolOptions(
    disk_size_gb=100,
    location_policy="ANY",
    initial_node_count=0,
    oauth_scopes=["https://www.googleapis.com/auth/cloud-platform"],
    workload_metadata_mode="GKE_METADATA",
    metadata={"disable-legacy-endpoints": "true"},
    taint_key="dedicated",
    taints=[],
    node_labels={},
    auto_repair=True,
    auto_upgrade=True,
    secure_boot=True,
    integrity_monitoring=True,
    max_surge=1,
    max_unavailable=0,
    timeouts={"create": "60m", "update": "60m", "delete": "60m"},
    ignore_changes=["managed_instance_group_urls", "node_config.0.taint"],
)
DEFAULT_PER_ZONE = (0, 50)
HEAD_POOL_NAME = "ray-head"
HEAD_TOTAL_NODES = (1, 1)


class _Problems:
    def __init__(self, spec: Spec) -> None:
        self.doc: Document | None = spec._source
        self.items: list[Problem] = []

    def add(self, path: tuple, message: str) -> None:
        if self.doc is None:
            from .._spec import field_path

            self.items.append(Problem(message, field=field_path(path)))
        else:
            self.items.append(located(self.doc, path, message))


def _options(*layers: PoolOptions) -> dict:
    """Merge pool options: later layers override earlier ones, field by field, where set."""
    merged: dict = {}
    for layer in layers:
        for name in layer.model_fields_set:
            if getattr(layer, name) is not None:  # an explicit null means "not set here"
                merged[name] = getattr(layer, name)
    per_zone = {"min_nodes_per_zone", "max_nodes_per_zone"}
    total = {"total_min_nodes", "total_max_nodes"}
    # A layer that sets one style of bounds replaces the other style from lower layers.
    last = {n for n in layers[-1].model_fields_set if getattr(layers[-1], n) is not None}
    if last & per_zone:
        for name in total:
            merged.pop(name, None)
    if last & total:
        for name in per_zone:
            merged.pop(name, None)
    return merged


def _zones(spec: Spec, problems: _Problems) -> tuple[str, ...]:
    region = spec.gcp.region
    known = ZONES.get(region)
    if spec.gcp.zones is None:
        if known is None:
            problems.add(
                ("gcp", "region"),
                f"unknown region {region!r}: list its zones in gcp.zones "
                f"(known regions: {', '.join(sorted(ZONES))})",
            )
            return ()
        return known
    for i, zone in enumerate(spec.gcp.zones):
        if known is not None and zone not in known:
            problems.add(
                ("gcp", "zones", i),
                f"{zone!r} is not a zone of {region} (zones: {', '.join(known)})",
            )
        elif not zone.startswith(region + "-") or len(zone) <= len(region) + 1:
            problems.add(("gcp", "zones", i), f"{zone!r} is not a zone of {region}")
    if len(set(spec.gcp.zones)) != len(spec.gcp.zones):
        problems.add(("gcp", "zones"), "zones are listed twice")
    return tuple(spec.gcp.zones)


def _machine(group: _GroupBase, path: tuple, problems: _Problems) -> MachineType | None:
    machine = catalog().machine(group.machine_type)
    if machine is None:
        families = sorted({m.family for m in catalog().machines.values()})
        problems.add(
            (*path, "machine_type"),
            f"unknown machine type {group.machine_type!r} (known families: {', '.join(families)})",
        )
    elif machine.documented_at:
        problems.add(
            (*path, "machine_type"),
            f"{machine.name} is known only from Google's documentation ({machine.documented_at}):"
            " it has no price, and spotray renders Ray groups only on priced Compute Engine types "
            "(`spotray check` still checks pools of it)",
        )
        return None
    return machine


def _gpu(
    group: _GroupBase, machine: MachineType, path: tuple, problems: _Problems
) -> tuple[str | None, int]:
    if group.gpu is not None:
        problem = gpu_problem(machine, group.gpu.type, group.gpu.count)
        if problem:
            field, message = problem
            problems.add((*path, "gpu", field), message)
            return None, 0
        return (group.gpu.type, group.gpu.count) if group.gpu.count else (None, 0)
    if machine.bundled_gpus:
        gpu, count = machine.bundled_gpus[0]
        return gpu, count
    return None, 0


def _price(machine: MachineType, region: str, gpu: str | None, gpus: int) -> Price:
    base = machine.prices.get(region, Price(None, None))
    if gpu is None or machine.bundled_gpus:
        return base
    extra = GPU_PRICES.get(gpu)
    if extra is None:
        return Price(None, None)

    def add(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else a + gpus * b

    return Price(add(base.on_demand, extra.on_demand), add(base.spot, extra.spot))


def _pool(
    spec: Spec,
    group: _GroupBase,
    *,
    name: str,
    spot: bool,
    managed: bool,
    path: tuple,
    zones: tuple[str, ...],
    problems: _Problems,
    head: bool,
) -> NodePool | None:
    machine = _machine(group, path, problems)
    if machine is None:
        return None
    gpu_type, gpu_count = _gpu(group, machine, path, problems)
    opts = _options(POOL_DEFAULTS, spec.pool_defaults, group.node_pool)
    if not ({"total_min_nodes", "total_max_nodes"} & opts.keys()) and head:
        opts.setdefault("total_min_nodes", HEAD_TOTAL_NODES[0])
        opts.setdefault("total_max_nodes", HEAD_TOTAL_NODES[1])
        opts.pop("min_nodes_per_zone", None)
        opts.pop("max_nodes_per_zone", None)
    if {"total_min_nodes", "total_max_nodes"} & opts.keys():
        autoscaling = Autoscaling(
            location_policy=opts["location_policy"],
            total_min=opts.get("total_min_nodes", 0),
            total_max=opts.get("total_max_nodes", opts.get("total_min_nodes", 0)),
        )
        if autoscaling.total_min > autoscaling.total_max:
            problems.add((*path, "node_pool"), "total_min_nodes is greater than total_max_nodes")
    else:
        autoscaling = Autoscaling(
            location_policy=opts["location_policy"],
            min_per_zone=opts.get("min_nodes_per_zone", DEFAULT_PER_ZONE[0]),
            max_per_zone=opts.get("max_nodes_per_zone", DEFAULT_PER_ZONE[1]),
        )
        if autoscaling.min_per_zone > autoscaling.max_per_zone:
            problems.add(
                (*path, "node_pool"),
                f"min_nodes_per_zone ({autoscaling.min_per_zone}) is greater than "
                f"max_nodes_per_zone ({autoscaling.max_per_zone})",
            )
    taints: list[Taint] = []
    if opts["taint_key"] and managed:  # an existing pool's taints are whatever it has
        taints.append(Taint(opts["taint_key"], name, "NoSchedule"))
    taints += [Taint(t.key, t.value, t.effect) for t in opts["taints"]]
    if gpu_type and not any(t.key == GPU_TAINT_KEY for t in taints):
        # GKE adds this taint only when a non-GPU pool already exists: render it ourselves.
        taints.append(Taint(GPU_TAINT_KEY, "present", "NoSchedule"))
    labels = gke_node_labels(
        pool=name,
        machine=machine,
        region=spec.gcp.region,
        spot=spot,
        gpu_type=gpu_type,
        extra=opts["node_labels"],
    )
    workload_identity = opts["workload_metadata_mode"] == "GKE_METADATA"
    overhead = daemonset_overhead(workload_identity=workload_identity)
    if spec.gke.daemonset_cpu is not None:
        overhead = Resources(cpu_millis(spec.gke.daemonset_cpu), overhead.memory_bytes)
    if spec.gke.daemonset_memory is not None:
        overhead = Resources(overhead.cpu_millis, memory_bytes(spec.gke.daemonset_memory))
    shutdown = spec.spot_shutdown
    kubelet = None
    if spot and (shutdown.node_grace_period_seconds, shutdown.critical_pods_seconds) != (30, 15):
        kubelet = (shutdown.node_grace_period_seconds, shutdown.critical_pods_seconds)
    timeouts = opts["timeouts"]
    if not isinstance(timeouts, dict):
        timeouts = timeouts.model_dump(exclude_none=True)
    return NodePool(
        name=name,
        managed=managed,
        machine=machine,
        spot=spot,
        region=spec.gcp.region,
        zones=zones,
        gpu_type=gpu_type,
        gpu_count=gpu_count,
        labels=labels,
        taints=tuple(taints),
        autoscaling=autoscaling,
        initial_node_count=opts["initial_node_count"],
        disk_size_gb=opts["disk_size_gb"],
        disk_type=opts.get("disk_type"),
        # none named: the account spotray defines (see _security), never GCE's default
        service_account=opts.get("service_account") or NODE_ACCOUNT_REFERENCE,
        oauth_scopes=tuple(opts["oauth_scopes"]),
        workload_metadata_mode=opts["workload_metadata_mode"],
        metadata=dict(opts["metadata"]),
        node_labels=dict(opts["node_labels"]),
        auto_repair=opts["auto_repair"],
        auto_upgrade=opts["auto_upgrade"],
        secure_boot=opts["secure_boot"],
        integrity_monitoring=opts["integrity_monitoring"],
        max_surge=opts["max_surge"],
        max_unavailable=opts["max_unavailable"],
        timeouts=dict(timeouts),
        ignore_changes=tuple(opts["ignore_changes"]),
        kubelet_shutdown=kubelet,
        capacity=capacity(machine.vcpus, machine.memory_mib, gpu_count),
        allocatable=allocatable(machine.vcpus, machine.memory_mib, gpu_count),
        daemonsets=overhead,
        max_pods=spec.gke.max_pods_per_node,
        price=_price(machine, spec.gcp.region, gpu_type, gpu_count),
    )


def _pod(group: _GroupBase) -> PodShape:
    requests = Resources(cpu_millis(group.cpu), memory_bytes(group.memory), group.gpus)
    return PodShape(
        cpu=group.cpu,
        memory=group.memory,
        cpu_limit=group.cpu_limit or group.cpu,
        memory_limit=group.memory_limit or group.memory,
        gpus=group.gpus,
        requests=requests,
    )


def pods_per_node(pool: NodePool, pod: PodShape) -> tuple[int, str]:
    """How many of `pod` fit on one node of `pool`, and which resource runs out first."""
    return pods_fitting(pool.available, pod.requests, pool.max_pods)


def _fit_problems(pool: NodePool, pod: PodShape) -> list[tuple[str, str]]:
    """(field, message) for each resource the Pod requests more of than one node offers."""
    avail = pool.available
    req = pod.requests
    node = f"one {pool.machine.name} node of pool {pool.name!r}"
    out = []
    if req.cpu_millis > avail.cpu_millis:
        out.append(("cpu", f"requests cpu {pod.cpu} but {node} has {avail.cpu_millis}m available"))
    if req.memory_bytes > avail.memory_bytes:
        out.append(
            (
                "memory",
                f"requests memory {pod.memory} but {node} has {avail.memory_mib:.0f}Mi available",
            )
        )
    if req.gpus > avail.gpus:
        out.append(("gpus", f"requests {req.gpus} GPU(s) but {node} has {avail.gpus}"))
    return [
        (field, msg + " (allocatable less system DaemonSets; see `spotray explain`)")
        for field, msg in out
    ]


def _group(
    spec: Spec,
    group: _GroupBase,
    *,
    path: tuple,
    zones: tuple[str, ...],
    problems: _Problems,
) -> RayGroup | None:
    is_head = not isinstance(group, WorkerGroup)
    name = "head" if is_head else group.name
    pool_name = group.pool or (HEAD_POOL_NAME if is_head else group.name)
    pool = _pool(
        spec,
        group,
        name=pool_name,
        spot=False if is_head else group.spot,
        managed=group.create_pool if is_head else True,
        path=path,
        zones=zones,
        problems=problems,
        head=is_head,
    )
    if pool is None:
        return None
    pod = _pod(group)
    for field, message in _fit_problems(pool, pod):
        problems.add((*path, field), message)
    count, limited_by = pods_per_node(pool, pod)
    tolerations = tuple(t.model_dump(exclude_none=True) for t in group.tolerations)
    if is_head:
        replicas = dict(min_replicas=1, max_replicas=1, replicas=1, num_of_hosts=1)
        extra = dict(
            idle_timeout_seconds=None, priority=None, ray_labels={}, fallback_after_seconds=None
        )
    else:
        replicas = dict(
            min_replicas=group.min_replicas,
            max_replicas=group.max_replicas,
            replicas=group.replicas if group.replicas is not None else group.min_replicas,
            num_of_hosts=group.num_of_hosts,
        )
        extra = dict(
            idle_timeout_seconds=group.idle_timeout_seconds,
            priority=group.priority,
            ray_labels=dict(group.ray_labels),
            fallback_after_seconds=group.fallback_after_seconds
            or (
                DEFAULT_ACCELERATOR_FALLBACK_SECONDS
                if pool.gpu_count or pod.gpus
                else DEFAULT_FALLBACK_SECONDS
            ),
        )
    return RayGroup(
        name=name,
        is_head=is_head,
        pool=pool,
        pod=pod,
        pods_per_node=count,
        limited_by=limited_by,
        ray_start_params=dict(group.ray_start_params),
        env=dict(group.env),
        labels=dict(group.labels),
        tolerations=tolerations,
        service_account_name=group.service_account_name
        or spec.security.service_account
        or (spec.name if spec.security.create_service_account else None),
        # only the head's autoscaler sidecar talks to the Kubernetes API
        automount_token=is_head and spec.ray.autoscaler.enabled,
        **replicas,
        **extra,
    )


def resolve_group(spec: Spec, index: int, group: WorkerGroup) -> RayGroup | None:
    """Worker group `index` of `spec` as `group` would be (another machine type, another
    Pod), placed on its pool: None where it could not be (the Pod fits no node, the machine
    cannot take the GPUs, no price). For `spotray advise`, which asks this of every machine."""
    problems = _Problems(spec)
    zones = _zones(spec, problems)
    if problems.items:
        return None
    try:
        resolved = _group(spec, group, path=("workers", index), zones=zones, problems=problems)
    except (KeyError, ValueError):
        return None
    return None if problems.items else resolved


def resolve_plan(spec: Spec) -> Plan:
    """Resolve a spec into a plan.

    Raises:
        SpecError: with every problem that needs the facts to be seen, located in the spec.
    """
    problems = _Problems(spec)
    zones = _zones(spec, problems)
    head = _group(spec, spec.head, path=("head",), zones=zones, problems=problems)
    workers = [
        _group(spec, group, path=("workers", i), zones=zones, problems=problems)
        for i, group in enumerate(spec.workers)
    ]
    if problems.items:
        raise SpecError(problems.items)
    assert head is not None and all(w is not None for w in workers)
    shutdown = spec.spot_shutdown
    fallback = _fallback(spec, workers, problems)  # type: ignore[arg-type]
    if problems.items:
        raise SpecError(problems.items)
    security = _security(spec, [p for p in (head.pool, *(w.pool for w in workers)) if p.managed])
    return Plan(
        name=spec.name,
        namespace=spec.namespace,
        project=spec.gcp.project,
        region=spec.gcp.region,
        zones=zones,
        cluster=spec.gke.cluster,
        provider=spec.gke.provider,
        ray_version=spec.ray.version,
        image=spec.ray.resolved_image
        + (f"@{spec.security.image_digest}" if spec.security.image_digest else ""),
        autoscaling=spec.ray.autoscaler.enabled,
        autoscaler_version=spec.ray.autoscaler.version,
        autoscaler_idle_timeout_seconds=spec.ray.autoscaler.idle_timeout_seconds,
        upscaling_mode=spec.ray.autoscaler.upscaling_mode,
        shutdown=Shutdown(
            grace_period_seconds=shutdown.pod_grace_seconds,
            drain_timeout_seconds=shutdown.pod_grace_seconds - shutdown.teardown_seconds,
            node_grace_seconds=shutdown.node_grace_period_seconds,
            critical_pods_seconds=shutdown.critical_pods_seconds,
            configure_kubelet=(shutdown.node_grace_period_seconds, shutdown.critical_pods_seconds)
            != (GKE_SPOT_NODE_GRACE_SECONDS, GKE_CRITICAL_PODS_SECONDS),  # GKE's defaults
            checkpoint_save_seconds=shutdown.checkpoint_save_seconds,
        ),
        security=security,
        fallback=fallback,
        head=head,
        workers=tuple(workers),  # type: ignore[arg-type]
        price_source=price_source(),
    )


def fallback_routes(workers: tuple[RayGroup, ...] | list[RayGroup]) -> list[tuple[str, str]]:
    """(Spot group, on-demand group) for each Spot group that has a fallback: the on-demand group
    of highest priority below its own whose nodes offer Ray at least what its nodes do (so the
    same work fits) and the same Ray labels. Ray's autoscaler v2 ranks groups by how well they
    fit the work, then by the availability it has seen, then by `priority`."""
    routes = []
    for spot in workers:
        if not spot.pool.spot:
            continue
        need, labels = spot.ray_resources, spot.ray_labels
        below = [
            g
            for g in workers
            if not g.pool.spot
            and g.max_replicas > 0
            and (g.priority or 0) < (spot.priority or 0)
            and not shortfall(g.ray_resources, need)
            and labels.items() <= g.ray_labels.items()
        ]
        if below:
            best = max(below, key=lambda g: g.priority or 0)
            routes.append((spot.name, best.name))
    return routes


def _fallback(spec: Spec, workers: list[RayGroup], problems: _Problems) -> Fallback | None:
    """The autoscaler settings of a cluster with on-demand fallback (None: it has none, or its
    autoscaler is not v2, which alone ranks groups by availability and priority).

    Ray 2.60 has one timeout for every Pending Pod of the cluster. If groups set
    `fallback_after_seconds`, the largest set value is it; else the largest default. A group
    left at its default that needs longer (GPUs: 1200 s) would see its normal starts cut short
    (kuberay#4226), so that is an error naming the group."""
    scaler = spec.ray.autoscaler
    routes = fallback_routes(workers)
    if not (scaler.enabled and scaler.version == "v2" and routes):
        return None
    chosen = [g.fallback_after_seconds for g in spec.workers if g.fallback_after_seconds]
    timeout = max(chosen or [w.fallback_after_seconds or 0 for w in workers])
    for i, (group, worker) in enumerate(zip(spec.workers, workers, strict=True)):
        own = worker.fallback_after_seconds or 0
        if group.fallback_after_seconds is None and own > timeout:
            problems.add(
                ("workers", i, "name"),
                f"group {worker.name!r} needs {own} s to start a Pod (GPU nodes and images), but "
                f"the cluster gives up on a Pending Pod after {timeout} s (the largest "
                "fallback_after_seconds set): Ray 2.60 has one such timeout for all groups; set "
                f"fallback_after_seconds on {worker.name!r} to accept it, or raise the others",
            )
    return Fallback(
        pending_timeout_seconds=timeout,
        spot_retry_seconds=scaler.spot_retry_seconds,
        pending_idle_seconds=scaler.idle_timeout_seconds or RAY_DEFAULT_IDLE_TIMEOUT_SECONDS,
        routes=tuple(routes),
    )


def _security(spec: Spec, managed: list[NodePool]) -> Security:
    sec = spec.security
    context = pod_context = None
    if sec.security_context:
        # the Pod Security Standards' "restricted" profile, with the Ray image's own user
        pod_context = {
            "runAsNonRoot": True,
            "runAsUser": sec.run_as_user,
            "runAsGroup": sec.run_as_group,
            "fsGroup": sec.run_as_group,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        context = {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "runAsUser": sec.run_as_user,
            "runAsGroup": sec.run_as_group,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
    ours = any(p.service_account == NODE_ACCOUNT_REFERENCE for p in managed)
    token = sec.token_auth if sec.token_auth is not None else spec.ray.supports_token_auth
    net = sec.network_policy
    return Security(
        token_auth=token,
        pod_security_context=pod_context,
        container_security_context=context,
        service_account=sec.service_account or (spec.name if sec.create_service_account else None),
        create_service_account=sec.create_service_account,
        network_policy=net.mode,
        clients=tuple(
            NetworkClient(namespace=c.namespace, pod_labels=dict(c.pod_labels or {}))
            for c in net.clients
        ),
        client_ports=tuple(net.client_ports),
        operator_namespace=net.operator_namespace,
        node_account_id=node_account_id(spec.name) if ours else None,
        node_roles=tuple(spec.gke.node_roles),
    )
