"""The spec: what a user writes, validated with pydantic v2.

Field descriptions are the documentation: `docs/spec.md` is generated from them
(`python tools/gen_docs.py`). Everything here is user input as written; every number derived from
it (allocatable, pods per node, zones, prices) is computed once, in `spotray._plan`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from .._k8s_names import DNS1035_LABEL, DNS1123_LABEL
from .._quantity import parse_quantity
from .._versions import TOKEN_AUTH_MIN_RAY, version_tuple

GKE_POOL_NAME = DNS1035_LABEL
INT32_MAX = 2**31 - 1  # the KubeRay CRD's integers are int32

TF_EXPRESSION = re.compile(r"^\$\{.+\}$", re.S)

Quantity = Annotated[
    str,
    Field(description="A Kubernetes quantity, e.g. `1`, `500m`, `4G`, `12Gi`."),
]


def _dns1123_label(value: str, *, what: str, max_length: int = 63) -> str:
    if len(value) > max_length:
        raise ValueError(f"{what} {value!r} is longer than {max_length} characters")
    if not DNS1123_LABEL.match(value):
        raise ValueError(
            f"{what} {value!r} is not a DNS-1123 label (lowercase letters, digits and '-', "
            "starting and ending with a letter or digit)"
        )
    return value


def _quantity(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. '500m', '4G', '12Gi')")
    text = str(value)
    amount = parse_quantity(text)
    if amount <= 0:
        raise ValueError(f"quantity {text!r} must be positive")
    return text


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class Gcp(_Model):
    """Where the cluster lives on Google Cloud."""

    project: str | None = Field(
        None, description="GCP project id; rendered as the node pools' `project` when set."
    )
    region: str = Field(
        description="Compute Engine region of the GKE cluster, e.g. `us-central1`; the node pools' "
        "`location`."
    )
    zones: list[str] | None = Field(
        None,
        description="Zones of the region the node pools span (`node_locations`). Default: every "
        "zone of the region that spotray knows.",
        min_length=1,
    )


class Gke(_Model):
    """The GKE cluster the node pools join."""

    cluster: str = Field(
        description='Name of the existing GKE cluster. Rendered as `variable "cluster_name"` '
        "(with this default) and `cluster = var.cluster_name`; a Terraform expression written as "
        "`${...}` (e.g. `${google_container_cluster.main.name}`) is rendered as that expression."
    )
    provider: Literal["google", "google-beta"] = Field(
        "google-beta",
        description="Terraform provider of the `google_container_node_pool` resources.",
    )
    node_roles: list[str] = Field(
        default_factory=lambda: ["roles/container.defaultNodeServiceAccount"],
        description="IAM roles of the node service account spotray defines when the pools name "
        "none (GKE's least-privilege node role by default; add `roles/artifactregistry.reader` "
        "to pull private images).",
        min_length=1,
    )
    max_pods_per_node: int = Field(
        110, ge=8, le=256, description="The cluster's maximum Pods per node (GKE Standard default)."
    )
    daemonset_cpu: Quantity | None = Field(
        None,
        description="CPU that system DaemonSets request on every node. Default: spotray's model "
        "(kube-proxy, fluentbit-gke, ip-masq-agent, and gke-metadata-server when Workload Identity "
        "is on); see docs/plan.md.",
    )
    daemonset_memory: Quantity | None = Field(
        None, description="Memory that system DaemonSets request on every node (as above)."
    )

    _check_cpu = field_validator("daemonset_cpu", "daemonset_memory", mode="before")(
        lambda v: None if v is None else _quantity(v)
    )


class SpotShutdown(_Model):
    """How a preempted Spot node's Ray Pods shut down.

    GKE gives a preempted Spot node `node_grace_period_seconds` (30 s by default) of graceful
    shutdown, of which the last `critical_pods_seconds` (15 s) are for critical system Pods: Ray
    Pods get the difference. spotray sets the Pods' `terminationGracePeriodSeconds` to that window
    and Ray's drain timeout (`RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S`) to the window less
    `teardown_seconds`, and renders `kubelet_config` on the Spot pools when the window is not GKE's
    default.
    """

    node_grace_period_seconds: Literal[30, 120] = Field(
        30,
        description="Spot nodes' `kubelet_config.shutdown_grace_period_seconds`: 30 (GKE's "
        "default) or 120 (needs GKE >= 1.35 and google provider >= 7.39).",
    )
    critical_pods_seconds: int = Field(
        15,
        ge=0,
        le=120,
        description="`kubelet_config.shutdown_grace_period_critical_pods_seconds`: the part of the "
        "node's grace period kept for critical system Pods (GKE's default 15).",
    )
    teardown_seconds: int = Field(
        5,
        ge=1,
        description="Seconds kept after Ray's drain for its processes to exit.",
    )
    checkpoint_save_seconds: int | None = Field(
        None,
        ge=0,
        le=120,
        description="How long the job's resumable tasks need to save a checkpoint after a "
        "preemption notice; it must fit in Ray's drain (rendered as "
        "`SPOTRAY_CHECKPOINT_SAVE_SECONDS` on worker containers, checked by SR507).",
    )

    @property
    def pod_grace_seconds(self) -> int:
        return self.node_grace_period_seconds - self.critical_pods_seconds

    @model_validator(mode="after")
    def _drain_fits(self) -> SpotShutdown:
        drain = self.pod_grace_seconds - self.teardown_seconds
        if self.checkpoint_save_seconds is not None and self.checkpoint_save_seconds > drain:
            raise ValueError(
                f"checkpoint_save_seconds ({self.checkpoint_save_seconds}) must fit in Ray's "
                f"drain ({drain} s: the Pods' {self.pod_grace_seconds} s window less "
                f"teardown_seconds); lengthen the window (node_grace_period_seconds: 120) or "
                "save less"
            )
        if self.critical_pods_seconds >= self.node_grace_period_seconds:
            raise ValueError(
                f"critical_pods_seconds ({self.critical_pods_seconds}) must be less than "
                f"node_grace_period_seconds ({self.node_grace_period_seconds}), or Ray Pods get no "
                "time at all"
            )
        if self.teardown_seconds >= self.pod_grace_seconds:
            raise ValueError(
                f"teardown_seconds ({self.teardown_seconds}) must be less than the Pods' window "
                f"({self.pod_grace_seconds} s = node_grace_period_seconds - critical_pods_seconds), "
                "or Ray has no time to drain"
            )
        return self


class Autoscaler(_Model):
    """KubeRay's in-tree autoscaler (`spec.autoscalerOptions`)."""

    enabled: bool = Field(True, description="`enableInTreeAutoscaling`.")
    version: Literal["v1", "v2"] | None = Field(
        None,
        description="`autoscalerOptions.version`; v2 is needed for per-group idle timeouts and `priority`.",
    )
    idle_timeout_seconds: int | None = Field(
        None, ge=0, le=INT32_MAX, description="`autoscalerOptions.idleTimeoutSeconds`."
    )
    upscaling_mode: Literal["Default", "Aggressive", "Conservative"] | None = Field(
        None, description="`autoscalerOptions.upscalingMode`."
    )
    spot_retry_seconds: int = Field(
        600,
        ge=10,
        le=86400,
        description="After a Spot group fell back to on-demand, how long until new work is sent "
        "to Spot again (`RAY_AUTOSCALER_AVAILABILITY_RECOVERY_S`; Ray's default, 600 s). See "
        "docs/fallback.md.",
    )


class Ray(_Model):
    """Ray itself."""

    version: str = Field(description="`rayVersion`, e.g. `2.60.0`.", pattern=r"^\d+\.\d+\.\d+$")
    image: str | None = Field(
        None,
        description="Container image of every Ray Pod. Default `rayproject/ray:<version>`. A tag "
        "that starts with a version must start with `version`.",
    )
    autoscaler: Autoscaler = Field(default_factory=Autoscaler, description="Autoscaler options.")

    @model_validator(mode="after")
    def _image_matches_version(self) -> Ray:
        if self.image is None:
            return self
        tag = self.image.rsplit(":", 1)[1] if ":" in self.image.rsplit("/", 1)[-1] else ""
        found = re.match(r"^(\d+\.\d+\.\d+)", tag)
        if found and found[1] != self.version:
            raise ValueError(
                f"image tag {tag!r} is Ray {found[1]} but version is {self.version}; "
                "rayVersion and the image must agree"
            )
        return self

    @property
    def resolved_image(self) -> str:
        return self.image or f"rayproject/ray:{self.version}"

    @property
    def supports_token_auth(self) -> bool:
        """KubeRay 1.7 accepts `authOptions.mode: token` from this Ray version on."""
        return (version_tuple(self.version) or ()) >= TOKEN_AUTH_MIN_RAY


class Taint(_Model):
    """A Kubernetes taint on a pool's nodes."""

    key: str
    value: str = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class Toleration(_Model):
    """An extra Pod toleration, as in the Pod spec."""

    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    tolerationSeconds: int | None = None


class Gpu(_Model):
    """Accelerators attached to each node of a pool."""

    type: str = Field(description="GKE accelerator type, e.g. `nvidia-tesla-t4`, `nvidia-l4`.")
    count: int = Field(1, ge=0, le=16, description="GPUs per node; 0 means none.")


class Timeouts(_Model):
    """Terraform operation timeouts of a node pool."""

    create: str | None = "60m"
    update: str | None = "60m"
    delete: str | None = "60m"


class PoolOptions(_Model):
    """Node-pool settings. Each one left unset falls back to `pool_defaults`, then to the default shown."""

    disk_size_gb: int | None = Field(
        None, ge=10, le=65536, description="Boot disk size (default 100)."
    )
    disk_type: str | None = Field(
        None, description="Boot disk type, e.g. `pd-balanced` (provider default)."
    )
    location_policy: Literal["ANY", "BALANCED"] | None = Field(
        None,
        description="Autoscaling `location_policy` (default `ANY`: best for Spot obtainability).",
    )
    initial_node_count: int | None = Field(
        None, ge=0, le=INT32_MAX, description="Nodes per zone at creation (default 0)."
    )
    min_nodes_per_zone: int | None = Field(
        None, ge=0, le=INT32_MAX, description="`autoscaling.min_node_count` (default 0)."
    )
    max_nodes_per_zone: int | None = Field(
        None, ge=0, le=INT32_MAX, description="`autoscaling.max_node_count` (default 50)."
    )
    total_min_nodes: int | None = Field(
        None,
        ge=0,
        le=INT32_MAX,
        description="`autoscaling.total_min_node_count`; excludes the per-zone bounds.",
    )
    total_max_nodes: int | None = Field(
        None,
        ge=0,
        le=INT32_MAX,
        description="`autoscaling.total_max_node_count`; excludes the per-zone bounds.",
    )
    service_account: str | None = Field(
        None,
        description="Node service account email, or a Terraform expression `${...}`, that "
        "you manage. Unset: spotray defines `google_service_account.ray_nodes` (account id "
        "`<name>-nodes`) with `gke.node_roles`, never the Compute Engine default account.",
    )
    oauth_scopes: list[str] | None = Field(
        None, description="Default `[https://www.googleapis.com/auth/cloud-platform]`."
    )
    workload_metadata_mode: Literal["GKE_METADATA", "GCE_METADATA"] | None = Field(
        None,
        description="`workload_metadata_config.mode` (default `GKE_METADATA`: Workload Identity).",
    )
    metadata: dict[str, str] | None = Field(
        None, description='Instance metadata (default `{disable-legacy-endpoints: "true"}`).'
    )
    taint_key: str | None = Field(
        None,
        description="Key of the taint that reserves the pool for its group: `<key>=<pool name>:NoSchedule` "
        "(default `dedicated`; an empty string disables it).",
    )
    taints: list[Taint] | None = Field(None, description="Extra taints on the pool's nodes.")
    node_labels: dict[str, str] | None = Field(
        None, description="Extra Kubernetes labels on the pool's nodes."
    )
    auto_repair: bool | None = Field(None, description="`management.auto_repair` (default true).")
    auto_upgrade: bool | None = Field(None, description="`management.auto_upgrade` (default true).")
    max_surge: int | None = Field(
        None, ge=0, le=INT32_MAX, description="`upgrade_settings.max_surge` (default 1)."
    )
    max_unavailable: int | None = Field(
        None, ge=0, le=INT32_MAX, description="`upgrade_settings.max_unavailable` (default 0)."
    )
    timeouts: Timeouts | None = Field(None, description="Terraform timeouts (default 60m each).")
    secure_boot: bool | None = Field(
        None,
        description="`shielded_instance_config.enable_secure_boot` (default true; the provider's "
        "default is false). Changing it replaces the pool.",
    )
    integrity_monitoring: bool | None = Field(
        None,
        description="`shielded_instance_config.enable_integrity_monitoring` (default true).",
    )
    ignore_changes: list[str] | None = Field(
        None,
        description="`lifecycle.ignore_changes` (default `[managed_instance_group_urls, "
        "node_config.0.taint]`).",
    )

    @model_validator(mode="after")
    def _bounds(self) -> PoolOptions:
        per_zone = self.min_nodes_per_zone is not None or self.max_nodes_per_zone is not None
        total = self.total_min_nodes is not None or self.total_max_nodes is not None
        if per_zone and total:
            raise ValueError(
                "per-zone (min/max_nodes_per_zone) and total (total_min/max_nodes) autoscaling "
                "bounds are mutually exclusive"
            )
        for low, high in (
            ("min_nodes_per_zone", "max_nodes_per_zone"),
            ("total_min_nodes", "total_max_nodes"),
        ):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"{low} ({lo}) is greater than {high} ({hi})")
        return self


class _GroupBase(_Model):
    pool: str | None = Field(
        None, description="GKE node pool name (lowercase, starts with a letter, <= 40 chars)."
    )
    machine_type: str = Field(
        description="Compute Engine machine type of the pool, e.g. `e2-standard-4`."
    )
    gpu: Gpu | None = Field(
        None,
        description="GPUs per node. For A2/G2 machine types the bundled GPUs are implied.",
    )
    cpu: Quantity = Field(description="Ray container CPU request.")
    memory: Quantity = Field(description="Ray container memory request.")
    cpu_limit: Quantity | None = Field(None, description="CPU limit (default: the request).")
    memory_limit: Quantity | None = Field(None, description="Memory limit (default: the request).")
    gpus: int = Field(0, ge=0, le=16, description="`nvidia.com/gpu` per Pod (request = limit).")
    ray_start_params: dict[str, str] = Field(
        default_factory=dict, description="`rayStartParams`, passed through (all values strings)."
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Extra container environment variables."
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Extra Pod labels.")
    tolerations: list[Toleration] = Field(
        default_factory=list, description="Extra Pod tolerations."
    )
    service_account_name: str | None = Field(
        None, description="Kubernetes ServiceAccount of the Pods (for Workload Identity)."
    )
    node_pool: PoolOptions = Field(
        default_factory=PoolOptions, description="Overrides of `pool_defaults` for this pool."
    )

    _quantities = field_validator("cpu", "memory", "cpu_limit", "memory_limit", mode="before")(
        lambda v: None if v is None else _quantity(v)
    )

    @field_validator("pool")
    @classmethod
    def _pool_name(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 40 or not GKE_POOL_NAME.match(value)):
            raise ValueError(
                f"pool name {value!r} is not a valid GKE node pool name (lowercase letters, digits "
                "and '-', starting with a letter, at most 40 characters)"
            )
        return value

    @field_validator("ray_start_params", mode="before")
    @classmethod
    def _stringly(cls, value: Any) -> Any:
        # KubeRay wants every rayStartParams value as a string; accept YAML numbers and booleans.
        if isinstance(value, dict):
            return {
                k: (str(v).lower() if isinstance(v, bool) else str(v))
                if isinstance(v, int | float | bool)
                else v
                for k, v in value.items()
            }
        return value

    @model_validator(mode="after")
    def _limits(self) -> _GroupBase:
        for request, limit in (("cpu", "cpu_limit"), ("memory", "memory_limit")):
            lim = getattr(self, limit)
            if lim is not None and parse_quantity(lim) < parse_quantity(getattr(self, request)):
                raise ValueError(
                    f"{limit} {lim!r} is less than the request {getattr(self, request)!r}"
                )
        return self


class Head(_GroupBase):
    """The Ray head Pod and its node pool. The head never runs on Spot."""

    create_pool: bool = Field(
        True,
        description="Render an on-demand node pool for the head. false: `pool` already exists "
        "(e.g. `default-pool`) and is on-demand; only the Pod is pinned to it.",
    )
    spot: Literal[False] = Field(
        False,
        description="Always false: a preempted head takes the whole Ray cluster with it.",
    )
    pool: str | None = Field(None, description="Node pool name (default `ray-head`).")

    @field_validator("spot", mode="before")
    @classmethod
    def _never_spot(cls, value: Any) -> Any:
        if value is True:
            raise ValueError(
                "the head must not run on Spot: a preempted head takes the whole Ray cluster "
                "(GCS, driver, object directory) with it; use an on-demand pool"
            )
        return value


class WorkerGroup(_GroupBase):
    """A Ray worker group and the GKE node pool it runs on (one pool per group)."""

    name: str = Field(description="`groupName` (a DNS-1123 label).")
    spot: bool = Field(True, description="Run the pool on Spot VMs.")
    min_replicas: int = Field(0, ge=0, le=INT32_MAX, description="`minReplicas`.")
    max_replicas: int = Field(1, ge=0, le=INT32_MAX, description="`maxReplicas`.")
    replicas: int | None = Field(
        None, ge=0, le=INT32_MAX, description="`replicas` (default `min_replicas`)."
    )
    idle_timeout_seconds: int | None = Field(
        None, ge=0, le=INT32_MAX, description="`idleTimeoutSeconds` (needs autoscaler v2)."
    )
    num_of_hosts: int = Field(
        1, ge=1, le=INT32_MAX, description="`numOfHosts` (Pods per replica, multi-host)."
    )
    ray_labels: dict[str, str] = Field(
        default_factory=dict, description="Ray node labels of the group (the group's `labels`)."
    )
    priority: int | None = Field(
        None,
        ge=-INT32_MAX - 1,
        le=INT32_MAX,
        description="`priority` (KubeRay >= 1.7, Ray >= 2.56, autoscaler v2): groups with a higher "
        "priority are scaled up first.",
    )
    fallback_after_seconds: int | None = Field(
        None,
        ge=30,
        le=86400,
        description="How long a Pod of this group may stay Pending (no node: a Spot stockout, or "
        "a node still provisioning and pulling the image) before Ray's autoscaler gives up on "
        "it; for a Spot group with a lower-priority on-demand group, how long work waits before "
        "going there. Default 600 s, 1200 s for GPU and TPU groups. Ray has one such timeout for "
        "the cluster: the largest of the groups' is rendered. See docs/fallback.md.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns1123_label(value, what="group name")

    @model_validator(mode="after")
    def _replicas(self) -> WorkerGroup:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) is greater than max_replicas ({self.max_replicas})"
            )
        if (
            self.replicas is not None
            and not self.min_replicas <= self.replicas <= self.max_replicas
        ):
            raise ValueError(
                f"replicas ({self.replicas}) is outside [min_replicas, max_replicas] = "
                f"[{self.min_replicas}, {self.max_replicas}]"
            )
        return self


class NetworkClient(_Model):
    """Pods allowed to reach the cluster's client ports (job submitters, dashboards, notebooks):
    a namespace, Pod labels, or both (Pods with those labels in that namespace)."""

    namespace: str | None = Field(
        None, description="A namespace (matched by its `kubernetes.io/metadata.name` label)."
    )
    pod_labels: dict[str, str] | None = Field(
        None, description="Pod labels, e.g. `{app: ray-submitter}`."
    )

    @model_validator(mode="after")
    def _something(self) -> NetworkClient:
        if self.namespace is None and not self.pod_labels:
            raise ValueError("give a namespace, pod_labels, or both")
        if self.namespace is not None:
            _dns1123_label(self.namespace, what="namespace")
        return self


class NetworkPolicy(_Model):
    """Who may reach the Ray Pods. The default renders a plain Kubernetes `NetworkPolicy`: the
    cluster's own Pods reach each other on every port; `clients` reach `client_ports` of the
    head; nothing else gets in (the kubelet's probes always do)."""

    mode: Literal["plain", "kuberay", "none"] = Field(
        "plain",
        description="`plain`: a `networking.k8s.io/v1` NetworkPolicy in raycluster.yaml; "
        "`kuberay`: KubeRay's own `spec.networkPolicy` (needs the operator's alpha "
        "`RayClusterNetworkPolicy` feature gate, off by default: `spotray check "
        "--kuberay-feature-gates RayClusterNetworkPolicy=true`); `none`: no policy.",
    )
    clients: list[NetworkClient] = Field(
        default_factory=list,
        description="Pods (by namespace and/or labels) that may reach `client_ports` of the head.",
    )
    client_ports: list[int] = Field(
        default_factory=lambda: [8265, 10001],
        description="Head ports open to `clients` (8265 dashboard and job API, 10001 Ray "
        "client; add 8000 for Serve).",
    )
    operator_namespace: str | None = Field(
        None,
        description="Namespace of the KubeRay operator, admitted to the dashboard port (8265) "
        "and Serve (8000): needed for RayJob and RayService, not for a plain RayCluster.",
    )

    @field_validator("client_ports")
    @classmethod
    def _ports(cls, value: list[int]) -> list[int]:
        for port in value:
            if not 1 <= port <= 65535:
                raise ValueError(f"port {port} is not in 1..65535")
        return value

    @field_validator("operator_namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        return value if value is None else _dns1123_label(value, what="namespace")


class Security(_Model):
    """What spotray adds so that the rendered files pass a security review (docs/security.md).
    Every switch is on by default where the Ray version supports it."""

    token_auth: bool | None = Field(
        None,
        description="Ray token authentication (`authOptions.mode: token`): KubeRay generates "
        "the token in a Secret and hands it to every Ray container. Default: on for Ray >= "
        "2.52.0 (KubeRay 1.7 refuses it below), off below.",
    )
    security_context: bool = Field(
        True,
        description="A restricted `securityContext` on every container (no privilege "
        "escalation, all capabilities dropped, `RuntimeDefault` seccomp, non-root) and on the "
        "autoscaler sidecar.",
    )
    run_as_user: int = Field(
        1000,
        ge=1,
        le=INT32_MAX,
        description="`runAsUser`: the Ray image's own user `ray` is UID 1000 "
        "(ray-project/ray docker/base-deps/Dockerfile).",
    )
    run_as_group: int = Field(
        100, ge=0, le=INT32_MAX, description="`runAsGroup`: the Ray image's user's group `users`."
    )
    service_account: str | None = Field(
        None,
        description="The Kubernetes service account of every Ray Pod that names none of its "
        "own (default: the cluster's name, as KubeRay's autoscaler RBAC expects). Workers do "
        "not mount its token; the head does only when the autoscaler needs it.",
    )
    create_service_account: bool = Field(
        True, description="Render that `ServiceAccount` in raycluster.yaml."
    )
    network_policy: NetworkPolicy = Field(
        default_factory=NetworkPolicy, description="Who may reach the Ray Pods."
    )
    image_digest: str | None = Field(
        None,
        description="Pin the image by digest (`sha256:<64 hex>`): rendered as `image@digest`.",
        pattern=r"^sha256:[0-9a-f]{64}$",
    )

    @field_validator("service_account")
    @classmethod
    def _service_account(cls, value: str | None) -> str | None:
        return (
            value
            if value is None
            else _dns1123_label(value, what="service account", max_length=253)
        )


class Spec(_Model):
    """A spotray spec: one Ray cluster on GKE, its head, its worker groups and their node pools."""

    name: str = Field(
        description="RayCluster `metadata.name`: a DNS-1123 label that starts with a letter "
        "(KubeRay needs DNS-1035), at most 53 characters."
    )
    namespace: str | None = Field(None, description="RayCluster `metadata.namespace`.")
    gcp: Gcp = Field(description="Project, region and zones.")
    gke: Gke = Field(description="The GKE cluster.")
    ray: Ray = Field(description="Ray version, image and autoscaler.")
    spot_shutdown: SpotShutdown = Field(
        default_factory=SpotShutdown, description="The Spot shutdown window and Ray's drain in it."
    )
    pool_defaults: PoolOptions = Field(
        default_factory=PoolOptions,
        description="Node-pool settings shared by every pool spotray renders.",
    )
    security: Security = Field(
        default_factory=Security,
        description="Token auth, securityContext, NetworkPolicy, service account, image digest.",
    )
    head: Head = Field(description="The head group.")
    workers: list[WorkerGroup] = Field(
        min_length=1, description="Worker groups, one node pool each."
    )

    _source: Any = PrivateAttr(default=None)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        _dns1123_label(value, what="cluster name", max_length=53)
        if not value[0].isalpha():
            raise ValueError(
                f"cluster name {value!r} must start with a letter (KubeRay needs DNS-1035)"
            )
        return value
