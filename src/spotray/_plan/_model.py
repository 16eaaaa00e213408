"""The plan: a spec resolved with facts. Frozen; the only home of derived numbers.

Renderers, `explain`, the checker's fit model, the simulator and the local cluster read these
objects; none of them recomputes allocatable, pods per node or prices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .._quantity import MIB, format_cpu, format_memory
from .._rayresources import ray_resources
from ._allocatable import Resources
from ._catalog import MachineType, Price

# Taint effects: Kubernetes spelling -> Terraform provider spelling.
PROVIDER_EFFECT = {
    "NoSchedule": "NO_SCHEDULE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
}
GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_RESOURCE = "nvidia.com/gpu"


@dataclass(frozen=True)
class Taint:
    """A taint on every node of a pool (Kubernetes spelling of `effect`)."""

    key: str
    value: str
    effect: str

    @property
    def provider_effect(self) -> str:
        return PROVIDER_EFFECT[self.effect]


@dataclass(frozen=True)
class Autoscaling:
    """Cluster-autoscaler bounds of a pool: per zone or in total, never both."""

    location_policy: str
    min_per_zone: int | None = None
    max_per_zone: int | None = None
    total_min: int | None = None
    total_max: int | None = None

    def max_nodes(self, zones: int) -> int:
        """The most nodes the pool can have across all its zones."""
        if self.total_max is not None:
            return self.total_max
        return (self.max_per_zone or 0) * zones


@dataclass(frozen=True)
class NodePool:
    """A GKE node pool, with the resources its nodes offer to Pods."""

    name: str
    managed: bool  # spotray renders it in Terraform
    machine: MachineType
    spot: bool
    region: str
    zones: tuple[str, ...]
    gpu_type: str | None
    gpu_count: int
    labels: dict[str, str]  # on every node (the zone label varies per node: see `zones`)
    taints: tuple[Taint, ...]
    autoscaling: Autoscaling
    initial_node_count: int
    disk_size_gb: int
    disk_type: str | None
    service_account: str | None
    oauth_scopes: tuple[str, ...]
    workload_metadata_mode: str
    metadata: dict[str, str]
    node_labels: dict[str, str]  # the labels the user asked for (also in `labels`)
    auto_repair: bool
    auto_upgrade: bool
    secure_boot: bool  # shielded_instance_config
    integrity_monitoring: bool
    max_surge: int
    max_unavailable: int
    timeouts: dict[str, str]
    ignore_changes: tuple[str, ...]
    kubelet_shutdown: tuple[int, int] | None  # (total, critical-pods) seconds, None: GKE default
    capacity: Resources
    allocatable: Resources
    daemonsets: Resources
    max_pods: int
    price: Price  # per node-hour, GPUs included where known

    @property
    def available(self) -> Resources:
        """What Ray Pods can request on one node: allocatable less system DaemonSets."""
        return self.allocatable - self.daemonsets

    @property
    def max_nodes(self) -> int:
        return self.autoscaling.max_nodes(len(self.zones))

    @property
    def usd_per_node_hour(self) -> float | None:
        """What one node costs per hour at this pool's market (spot or on-demand)."""
        return self.price.spot if self.spot else self.price.on_demand


@dataclass(frozen=True)
class PodShape:
    """A Ray container's resources as written, and its requests as numbers."""

    cpu: str
    memory: str
    cpu_limit: str
    memory_limit: str
    gpus: int

    requests: Resources = field(compare=False)

    def container_resources(self) -> dict:
        """The Ray container's `resources` (requests and limits) as the RayCluster has them."""
        requests: dict[str, object] = {"cpu": self.cpu, "memory": self.memory}
        limits: dict[str, object] = {"cpu": self.cpu_limit, "memory": self.memory_limit}
        if self.gpus:
            requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = self.gpus
        return {"limits": limits, "requests": requests}


@dataclass(frozen=True)
class RayGroup:
    """The head or a worker group, placed on its pool."""

    name: str
    is_head: bool
    pool: NodePool
    pod: PodShape
    pods_per_node: int
    limited_by: str  # "cpu", "memory", "gpu" or "max-pods"
    min_replicas: int
    max_replicas: int
    replicas: int
    num_of_hosts: int
    idle_timeout_seconds: int | None
    priority: int | None
    fallback_after_seconds: int | None  # how long its Pods may stay Pending (None: the head)
    ray_start_params: dict[str, str]
    ray_labels: dict[str, str]
    env: dict[str, str]
    labels: dict[str, str]
    tolerations: tuple[dict, ...]  # extra ones, as Kubernetes dicts
    service_account_name: str | None  # the group's own, else the cluster's (Security)
    automount_token: bool  # mount the service account's token (the autoscaler needs it)

    @property
    def used(self) -> tuple[float, float]:
        """(cpu, memory) share of a node's available resources used at full packing."""
        return self.packing.used

    @property
    def packing(self) -> Packing:
        """How the group's Pods pack one node of its pool."""
        return packing(self.pool.available, self.pod.requests, self.pool.max_pods)

    def filling_pod(self, pods_per_node: int | None = None) -> tuple[str, str]:
        """The (cpu, memory) Pod size that would fill a node with `pods_per_node` Pods."""
        return filling_pod(self.pool.available, pods_per_node or max(self.pods_per_node, 1))

    @property
    def max_vms(self) -> int:
        """The most VMs (GKE nodes) the group's Pods can fill: max replicas over Pods per node."""
        return -(-self.max_replicas // max(1, self.pods_per_node))

    @property
    def ray_resources(self) -> dict[str, int]:
        """The Ray resources of one of the group's nodes, as Ray's autoscaler reads them from
        the RayCluster (`_rayresources`)."""
        return ray_resources(
            {
                "rayStartParams": self.ray_start_params,
                "template": {
                    "spec": {"containers": [{"resources": self.pod.container_resources()}]}
                },
            }
        )

    @property
    def usd_per_pod_hour(self) -> float | None:
        price = self.pool.usd_per_node_hour
        if price is None or self.pods_per_node == 0:
            return None
        return price / self.pods_per_node


# How long a worker Pod may stay Pending before Ray's autoscaler gives up on it, by default: a
# few minutes, longer than a normal start on GKE (a new node, then the Ray image pulled onto it);
# GPU nodes also install their driver, and GPU images are several times larger. docs/fallback.md.
DEFAULT_FALLBACK_SECONDS = 600
DEFAULT_ACCELERATOR_FALLBACK_SECONDS = 1200
RAY_DEFAULT_IDLE_TIMEOUT_SECONDS = 60  # KubeRay's autoscaler idleTimeoutSeconds default

# Ray 2.60's autoscaler v2 settings for it (autoscaler/v2/instance_manager/config.py,
# autoscaler/_private/constants.py), read once from the autoscaler's environment
ALLOCATE_TIMEOUT_ENV = "RAY_AUTOSCALER_RECONCILE_ALLOCATE_STATUS_TIMEOUT_S"  # default 3600
AVAILABILITY_RECOVERY_ENV = "RAY_AUTOSCALER_AVAILABILITY_RECOVERY_S"  # default 600
PENDING_IDLE_ENV = "RAY_AUTOSCALER_PENDING_NODE_IDLE_TIMEOUT_S"  # default -1: never


@dataclass(frozen=True)
class Fallback:
    """How Ray's autoscaler (v2) turns from a stocked-out Spot group to its on-demand fallback,
    and back: the settings spotray renders into the autoscaler's environment (Ray 2.60 reads
    them once, for the whole cluster). docs/fallback.md explains each."""

    pending_timeout_seconds: int  # a Pending Pod is given up (ALLOCATION_TIMEOUT) after this
    spot_retry_seconds: int  # ... and its group's availability recovers over this long
    pending_idle_seconds: int  # a Pending Pod that no work needs is dropped after this
    routes: tuple[tuple[str, str], ...]  # (Spot group, the on-demand group it falls back to)

    def env(self, time_scale: float = 1.0) -> dict[str, str]:
        """The autoscaler's environment (`autoscalerOptions.env`); `time_scale` divides the
        durations (the local cluster), never below 1 s."""

        def seconds(value: int) -> str:
            return str(max(1, round(value / time_scale)))

        return {
            ALLOCATE_TIMEOUT_ENV: seconds(self.pending_timeout_seconds),
            AVAILABILITY_RECOVERY_ENV: seconds(self.spot_retry_seconds),
            PENDING_IDLE_ENV: seconds(self.pending_idle_seconds),
        }

    def fallback_of(self, group: str) -> str | None:
        return next((od for spot, od in self.routes if spot == group), None)


@dataclass(frozen=True)
class Shutdown:
    """The Spot shutdown window and Ray's drain inside it."""

    grace_period_seconds: int  # terminationGracePeriodSeconds of worker Pods
    drain_timeout_seconds: int  # RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S
    node_grace_seconds: int  # kubelet shutdown_grace_period_seconds of spot nodes
    critical_pods_seconds: int  # ... of which reserved for critical system Pods
    configure_kubelet: bool  # render kubelet_config (False: GKE's default 30 s / 15 s)
    checkpoint_save_seconds: int | None = None  # what resumable tasks need after a notice

    @property
    def predrain_seconds(self) -> int | None:
        """The deadline of the drain the worker Pods' preStop hook requests, in seconds: a few
        seconds before `ray start`'s own drain ends. `ray start --block` drains on SIGTERM
        and stops its node at that drain's deadline, so the node's death and the deadline the
        GCS holds race (measured on Ray 2.60: 2 of 4 busy nodes recorded as
        EXPECTED_TERMINATION, charged to retries). With this earlier deadline already in the
        GCS, the death comes after it and is recorded as AUTOSCALER_DRAIN_PREEMPTED (4 of 4).
        None when the drain is too short to leave a margin."""
        margin = max(1, min(5, self.drain_timeout_seconds // 4))
        left = self.drain_timeout_seconds - margin
        return left if left >= 1 else None


@dataclass(frozen=True)
class NetworkClient:
    """Pods admitted to the head's client ports: by namespace, Pod labels, or both."""

    namespace: str | None
    pod_labels: dict[str, str]


@dataclass(frozen=True)
class Security:
    """What the rendered files do for a security review (docs/security.md)."""

    token_auth: bool  # authOptions.mode token
    pod_security_context: dict | None  # on every Pod
    container_security_context: dict | None  # on every container, the autoscaler's too
    service_account: str | None  # Kubernetes service account of Pods that name none
    create_service_account: bool  # render it
    network_policy: str  # plain | kuberay | none
    clients: tuple[NetworkClient, ...]
    client_ports: tuple[int, ...]
    operator_namespace: str | None
    node_account_id: str | None  # the node service account spotray defines (None: none)
    node_roles: tuple[str, ...]  # ... and its IAM roles


GKE_NODE_ROLE = "roles/container.defaultNodeServiceAccount"  # GKE's least-privilege node role

NODE_ACCOUNT = "ray_nodes"  # the google_service_account spotray defines for the node pools
NODE_ACCOUNT_REFERENCE = f"${{google_service_account.{NODE_ACCOUNT}.email}}"


def node_account_id(cluster: str) -> str:
    """The IAM account id of the node service account spotray defines: unique per cluster
    name in a project, 6-30 characters."""
    return f"{cluster[:24].rstrip('-')}-nodes"


@dataclass(frozen=True)
class Plan:
    """Everything spotray knows about one cluster, derived once."""

    name: str
    namespace: str | None
    project: str | None
    region: str
    zones: tuple[str, ...]
    cluster: str  # GKE cluster name, or a Terraform expression "${...}"
    provider: str
    ray_version: str
    image: str
    autoscaling: bool
    autoscaler_version: str | None
    autoscaler_idle_timeout_seconds: int | None
    upscaling_mode: str | None
    shutdown: Shutdown
    security: Security
    fallback: Fallback | None  # None: no Spot group with an on-demand group to fall back to
    head: RayGroup
    workers: tuple[RayGroup, ...]
    price_source: dict[str, object]

    @property
    def groups(self) -> tuple[RayGroup, ...]:
        return (self.head, *self.workers)

    @property
    def pools(self) -> tuple[NodePool, ...]:
        """Every pool a group runs on, head first."""
        return tuple(g.pool for g in self.groups)

    @property
    def managed_pools(self) -> tuple[NodePool, ...]:
        """The pools spotray renders in Terraform."""
        return tuple(p for p in self.pools if p.managed)


# GKE's TPU node facts (GKE documentation, "Plan TPUs in GKE" / "About TPUs in GKE"): the
# accelerator label by machine series, and the topology a single-host slice of each machine type
# gets; multi-host slices take theirs from placement_policy.tpu_topology. TPU nodes carry the
# taint google.com/tpu=present:NoSchedule, which Pods requesting google.com/tpu tolerate.
TPU_ACCELERATORS = {
    "ct4p": "tpu-v4-podslice",
    "ct5lp": "tpu-v5-lite-podslice",
    "ct5p": "tpu-v5p-slice",
    "ct6e": "tpu-v6e-slice",
}
TPU_SINGLE_HOST_TOPOLOGY = {
    "ct4p-hightpu-4t": "2x2x1",
    "ct5p-hightpu-4t": "2x2x1",
    "ct5lp-hightpu-1t": "1x1",
    "ct5lp-hightpu-4t": "2x2",
    "ct5lp-hightpu-8t": "2x4",
    "ct6e-standard-1t": "1x1",
    "ct6e-standard-4t": "2x2",
    "ct6e-standard-8t": "2x4",
}
TPU_RESOURCE = "google.com/tpu"


def gke_tpu_labels(machine_type: str | None, topology: str | None) -> dict[str, str]:
    """The TPU labels GKE puts on a node of this machine type ({} if it is no TPU machine)."""
    series = (machine_type or "").split("-", 1)[0]
    if series not in TPU_ACCELERATORS:
        return {}
    labels = {"cloud.google.com/gke-tpu-accelerator": TPU_ACCELERATORS[series]}
    topology = topology or TPU_SINGLE_HOST_TOPOLOGY.get(machine_type or "")
    if topology:
        labels["cloud.google.com/gke-tpu-topology"] = topology
    return labels


ARM_SERIES = {"t2a", "c4a", "a4x"}  # Arm (Ampere Altra, Google Axion, NVIDIA Grace); else x86-64


def gke_node_labels(
    *,
    pool: str,
    machine: MachineType | None,
    region: str | None,
    spot: bool | None,
    gpu_type: str | None,
    extra: dict[str, str],
    preemptible: bool = False,
    gke_metadata: bool = False,
) -> dict[str, str]:
    """The labels GKE puts on every node of a pool (the zone label varies per node), plus the
    pool's own `extra` labels. `None` means unknown: that label is left out.

    From GKE's documentation: `cloud.google.com/gke-spot=true` on Spot nodes and
    `cloud.google.com/gke-preemptible=true` on preemptible ones (never both);
    `iam.gke.io/gke-metadata-server-enabled=true` where the GKE metadata server (Workload
    Identity) runs; Kubernetes' own `kubernetes.io/os` and `kubernetes.io/arch` everywhere."""
    labels = {"cloud.google.com/gke-nodepool": pool, "kubernetes.io/os": "linux"}
    if machine is not None:
        labels["cloud.google.com/machine-family"] = machine.series
        labels["node.kubernetes.io/instance-type"] = machine.name
        labels["kubernetes.io/arch"] = "arm64" if machine.series in ARM_SERIES else "amd64"
    if region:
        labels["topology.kubernetes.io/region"] = region
    if spot and not preemptible:
        labels["cloud.google.com/gke-provisioning"] = "spot"
        labels["cloud.google.com/gke-spot"] = "true"
    elif preemptible:
        labels["cloud.google.com/gke-preemptible"] = "true"
    elif spot is False:
        labels["cloud.google.com/gke-provisioning"] = "standard"
    if gke_metadata:
        labels["iam.gke.io/gke-metadata-server-enabled"] = "true"
    if gpu_type:
        labels["cloud.google.com/gke-accelerator"] = gpu_type
    labels.update(extra)
    return labels


def filling_pod(available: Resources, pods: int) -> tuple[str, str]:
    """The (cpu, memory) Pod size that fills `available` with `pods` Pods (rounded down to 10m
    CPU and 64Mi memory)."""
    cpu = available.cpu_millis // pods // 10 * 10
    mem = available.memory_bytes // pods // MIB // 64 * 64 * MIB
    return format_cpu(cpu), format_memory(mem)


# GKE's defaults, facts every reader of the plan shares (spec defaults, renderers, rules).
GKE_DEFAULT_MAX_PODS = 110  # Pods per node on GKE Standard (max_pods_per_node unset)
GKE_SPOT_NODE_GRACE_SECONDS = 30  # a preempted Spot node's graceful shutdown
GKE_CRITICAL_PODS_SECONDS = 15  # of which kept for critical system Pods
GKE_SPOT_POD_WINDOW = GKE_SPOT_NODE_GRACE_SECONDS - GKE_CRITICAL_PODS_SECONDS  # for Ray Pods


@dataclass(frozen=True)
class Packing:
    """How Pods of one size pack a node: the numbers `explain` shows and the rules check."""

    pods: int  # Pods per node
    limited_by: str  # "cpu", "memory", "gpu" or "max-pods"
    used: tuple[float, float]  # (cpu, memory) share of what the node offers Ray Pods
    fill: tuple[str, str]  # the (cpu, memory) Pod size that fills a node with `pods` Pods
    gpu_used: float | None = None  # share of the node's GPUs the Pods use; None: no GPUs

    @property
    def idle(self) -> float:
        """The share of the node left idle: by the scarcer of CPU and memory."""
        return 1 - max(self.used)

    @property
    def gpus_idle(self) -> float:
        """The share of the node's GPUs no Pod uses (0 on a node without GPUs)."""
        return 0.0 if self.gpu_used is None else 1 - self.gpu_used


def packing(available: Resources, requests: Resources, max_pods: int) -> Packing:
    """How Pods of `requests` pack a node offering `available` (with at most `max_pods`)."""
    pods, limited_by = pods_fitting(available, requests, max_pods)
    used = (
        pods * requests.cpu_millis / available.cpu_millis if available.cpu_millis > 0 else 0.0,
        pods * requests.memory_bytes / available.memory_bytes
        if available.memory_bytes > 0
        else 0.0,
    )
    gpu_used = pods * requests.gpus / available.gpus if available.gpus > 0 else None
    return Packing(pods, limited_by, used, filling_pod(available, max(pods, 1)), gpu_used)


def pods_fitting(available: Resources, requests: Resources, max_pods: int) -> tuple[int, str]:
    """How many Pods of `requests` fit in `available`, and which resource runs out first."""
    limits = [("max-pods", max_pods)]
    if requests.cpu_millis:
        limits.append(("cpu", max(available.cpu_millis, 0) // requests.cpu_millis))
    if requests.memory_bytes:
        limits.append(("memory", max(available.memory_bytes, 0) // requests.memory_bytes))
    if requests.gpus:
        limits.append(("gpu", max(available.gpus, 0) // requests.gpus))
    name, count = min(limits, key=lambda item: item[1])
    return count, name
