"""SR1xx, continued: KubeRay 1.7's checks of its newer RayCluster features: Kubernetes token
auth, the GCS storage backends, NetworkPolicy, mTLS and the history server, each with the
feature gate it needs (`--kuberay-feature-gates`; `_kuberay.py`).

Restated from KubeRay v1.7.0 `ray-operator/controllers/ray/utils/validation.go` in our own
words; tests/kuberay_parity/ holds KubeRay's own test cases for each.
"""

from __future__ import annotations

from ..._k8s_names import DNS1123_LABEL
from ..._versions import kuberay_version
from .._context import env_of, pod_spec, ray_container
from .._finding import Severity
from .._kuberay import gate_note
from .._registry import Rule, register

K8S_AUTH_MIN_RAY = (2, 55)


def _gate_off(ctx, gate: str) -> bool:
    return not ctx.docs.gates.get(gate, False)


def _who(cluster) -> str:
    return f"{cluster.kind} {cluster.name!r}"


def _gated(rule, ctx, field: str, gate: str):
    """(cluster, value, path, finding) for each cluster that sets spec `field`; `finding` is
    the error that its feature gate is off, or None."""
    for cluster in ctx.clusters:
        value = cluster.spec.get(field)
        if value is None:
            continue
        where = cluster.at(field)
        off = None
        if _gate_off(ctx, gate):
            off = rule.finding(
                cluster.doc, where, f"{_who(cluster)}: spec.{field} needs {gate_note(gate)}"
            )
        yield cluster, value, where, off


def _env_list(container: object) -> list[str]:
    """The names a container's env sets (a name set twice counts once)."""
    return list(env_of(container if isinstance(container, dict) else None))


def _mounts(container: object) -> list[dict]:
    mounts = container.get("volumeMounts") if isinstance(container, dict) else None
    return [m for m in mounts or [] if isinstance(m, dict)] if isinstance(mounts, list) else []


def _containers(group: object) -> tuple[int, dict] | None:
    return ray_container(group) if isinstance(group, dict) else None


@register
class K8sTokenAuth(Rule):
    """Kubernetes token auth (`authOptions.enableK8sTokenAuth`) set where KubeRay refuses it.

    What it does
        Errors when `authOptions.enableK8sTokenAuth` is true and `authOptions.mode` is not
        `token`, `rayVersion` is older than 2.55, or `authOptions.secretName` is also set; and
        when a RayJob or RayService asks for it (KubeRay 1.7 supports it in a RayCluster only).

    Why is this bad?
        KubeRay refuses the object: Kubernetes token auth is a kind of token auth, Ray learned
        it in 2.55, and it replaces the shared token a Secret would hold.

    Example
        authOptions: {enableK8sTokenAuth: true}

    Use instead
        rayVersion: "2.60.0"
        authOptions: {mode: token, enableK8sTokenAuth: true}
    """

    code = "SR116"
    name = "k8s-token-auth"
    severity = Severity.ERROR
    fix = "Use mode: token, rayVersion >= 2.55, no secretName, and a RayCluster (not a RayJob/RayService)."
    kuberay = (
        "validation.go ValidateRayClusterSpec: enableK8sTokenAuth needs mode token, rayVersion >= 2.55.0, no secretName",
        "validation.go ValidateRayJobSpec: no enableK8sTokenAuth in a RayJob",
        "validation.go ValidateRayServiceSpec: no enableK8sTokenAuth in a RayService",
    )

    def check(self, ctx):
        for cluster in ctx.clusters:
            auth = cluster.spec.get("authOptions")
            if not (isinstance(auth, dict) and auth.get("enableK8sTokenAuth") is True):
                continue
            where = cluster.at("authOptions", "enableK8sTokenAuth")
            problems = []
            if cluster.kind != "RayCluster":
                problems.append(f"is not supported in a {cluster.kind} (KubeRay 1.7)")
            if auth.get("mode") != "token":
                problems.append("needs authOptions.mode: token")
            else:
                version = kuberay_version(cluster.spec.get("rayVersion"))
                if version is not None and version[:2] < K8S_AUTH_MIN_RAY:
                    problems.append(
                        f"needs rayVersion >= 2.55.0 (is {cluster.spec.get('rayVersion')!r})"
                    )
                if auth.get("secretName"):
                    problems.append("cannot be combined with authOptions.secretName")
            for problem in problems:
                yield self.finding(
                    cluster.doc, where, f"{_who(cluster)}: authOptions.enableK8sTokenAuth {problem}"
                )


GCS_STORAGE_ENV = ("RAY_gcs_storage", "RAY_gcs_storage_path")
GCS_STORAGE_VOLUME, GCS_STORAGE_PATH = "gcs-storage", "/data/gcs"
EMBEDDED_GATE = "GCSFaultToleranceEmbeddedStorage"


@register
class GcsStorageBackend(Rule):
    """gcsFaultToleranceOptions fields that do not belong to its backend.

    What it does
        For `gcsFaultToleranceOptions.backend: rocksdb` (GCS state on a volume of the head),
        errors when the GCSFaultToleranceEmbeddedStorage feature gate is off; when Redis
        fields are set (`redisAddress`, `redisUsername`, `redisPassword`,
        `externalStorageNamespace`); when `storage.claimName` is combined with `size`,
        `storageClassName` or `accessModes`; and when the head sets what KubeRay manages for
        it: the `RAY_gcs_storage`/`RAY_gcs_storage_path` env, a volume or mount named
        `gcs-storage`, or a mount at `/data/gcs`. For the Redis backend (the default), errors
        on `storage`, which only rocksdb uses.

    Why is this bad?
        KubeRay refuses the cluster: each backend has its own fields, and the embedded one's
        volume, mount and env are KubeRay's to create.

    Example
        gcsFaultToleranceOptions: {backend: rocksdb, redisAddress: "redis:6379"}

    Use instead
        gcsFaultToleranceOptions: {backend: rocksdb, storage: {size: 10Gi}}
    """

    code = "SR117"
    name = "gcs-storage-backend"
    severity = Severity.ERROR
    fix = "Keep to the backend's own fields; leave the rocksdb volume, mount and env to KubeRay."
    kuberay = (
        "validation.go validateGcsFaultToleranceBackend: rocksdb needs the GCSFaultToleranceEmbeddedStorage gate",
        "validation.go validateGcsFaultToleranceBackend: rocksdb without redisAddress, redisUsername, redisPassword, externalStorageNamespace",
        "validation.go validateGcsFaultToleranceBackend: storage.claimName excludes size, storageClassName, accessModes",
        "validation.go validateGcsFaultToleranceBackend: rocksdb: no head RAY_gcs_storage(_path) env, gcs-storage volume or mount, /data/gcs mount",
        "validation.go validateGcsFaultToleranceBackend: redis: no storage",
    )

    def check(self, ctx):
        for cluster in ctx.clusters:
            options = cluster.spec.get("gcsFaultToleranceOptions")
            if not isinstance(options, dict):
                continue
            where = cluster.at("gcsFaultToleranceOptions")
            if options.get("backend") in (None, "", "redis"):
                if options.get("storage") is not None:
                    yield self.finding(
                        cluster.doc,
                        (*where, "storage"),
                        f"{_who(cluster)}: gcsFaultToleranceOptions.storage applies only to "
                        "the rocksdb backend",
                    )
                continue
            if options.get("backend") != "rocksdb":
                continue  # not in the CRD's enum: SR100
            for path, problem in self._rocksdb(ctx, cluster, options):
                yield self.finding(cluster.doc, path, f"{_who(cluster)}: {problem}")

    @staticmethod
    def _rocksdb(ctx, cluster, options):
        """(path, problem) for each rocksdb rule the cluster breaks."""
        where = cluster.at("gcsFaultToleranceOptions")
        if _gate_off(ctx, EMBEDDED_GATE):
            yield (*where, "backend"), f"the rocksdb backend needs {gate_note(EMBEDDED_GATE)}"
        for name in ("redisAddress", "externalStorageNamespace", "redisUsername", "redisPassword"):
            value = options.get(name)
            if value if name in ("redisAddress", "externalStorageNamespace") else value is not None:
                yield (*where, name), f"gcsFaultToleranceOptions.{name} is set with rocksdb"
        storage = options.get("storage")
        if (
            isinstance(storage, dict)
            and storage.get("claimName")
            # KubeRay: size or storageClassName set at all (even empty), or accessModes given
            and (
                storage.get("size") is not None
                or storage.get("storageClassName") is not None
                or bool(storage.get("accessModes"))
            )
        ):
            yield (
                (*where, "storage", "claimName"),
                (
                    "gcsFaultToleranceOptions.storage.claimName excludes size, storageClassName "
                    "and accessModes"
                ),
            )
        head = cluster.spec.get("headGroupSpec")
        index, container = _containers(head) or (0, {})
        at = cluster.at("headGroupSpec", "template", "spec", "containers", index)
        for name in GCS_STORAGE_ENV:
            if name in _env_list(container):
                yield (*at, "env"), f"the head sets {name}, which KubeRay manages for rocksdb"
        for i, mount in enumerate(_mounts(container)):
            if (
                mount.get("name") == GCS_STORAGE_VOLUME
                or mount.get("mountPath") == GCS_STORAGE_PATH
            ):
                yield (
                    (*at, "volumeMounts", i),
                    (
                        f"the head mounts {mount.get('name')!r} at {mount.get('mountPath')!r}: "
                        f"KubeRay mounts {GCS_STORAGE_VOLUME!r} at {GCS_STORAGE_PATH} itself"
                    ),
                )
        volumes = pod_spec(head).get("volumes") if isinstance(head, dict) else None
        for i, volume in enumerate(volumes if isinstance(volumes, list) else []):
            if isinstance(volume, dict) and volume.get("name") == GCS_STORAGE_VOLUME:
                yield (
                    cluster.at("headGroupSpec", "template", "spec", "volumes", i),
                    (f"the head has a volume named {GCS_STORAGE_VOLUME!r}, which KubeRay creates"),
                )


NETWORK_GATE = "RayClusterNetworkPolicy"


@register
class NetworkPolicyOptions(Rule):
    """`spec.networkPolicy` without its feature gate, or with rules its mode ignores.

    What it does
        Errors when `networkPolicy` is set and the RayClusterNetworkPolicy feature gate is off;
        when `head`, `worker` or `workerGroups[]` give ingress rules under mode
        `DenyAllEgress` or egress rules under `DenyAllIngress` (mode defaults to `DenyAll`);
        when a `workerGroups[]` entry names no worker group; and when a worker group name is
        not a DNS-1123 label (KubeRay puts it in the NetworkPolicy's name).

    Why is this bad?
        KubeRay refuses the cluster: rules for a direction the mode leaves open would do
        nothing, and an entry for a group that does not exist protects nothing.

    Example
        networkPolicy: {mode: DenyAllEgress, head: {ingressRules: [...]}}

    Use instead
        networkPolicy: {mode: DenyAll, head: {ingressRules: [...]}}
    """

    code = "SR118"
    name = "network-policy"
    severity = Severity.ERROR
    fix = "Turn the gate on, match rules to the mode, and name existing DNS-1123 groups."
    kuberay = (
        "validation.go ValidateRayClusterSpec: networkPolicy needs the RayClusterNetworkPolicy gate",
        "validation.go validateNetworkPolicy: head/worker/workerGroups rules match the mode",
        "validation.go validateNetworkPolicy: worker group names DNS-1123 labels",
        "validation.go validateNetworkPolicy: workerGroups entries name existing groups",
    )

    def check(self, ctx):
        for cluster, policy, where, off in _gated(self, ctx, "networkPolicy", NETWORK_GATE):
            if off:
                yield off
            if not isinstance(policy, dict):
                continue
            for problem in self._consistency(cluster, policy):
                yield self.finding(cluster.doc, where, f"{_who(cluster)}: {problem}")

    @staticmethod
    def _consistency(cluster, policy):
        mode = policy.get("mode") or "DenyAll"
        ignored = {"DenyAllEgress": "ingressRules", "DenyAllIngress": "egressRules"}.get(mode)
        for part in ("head", "worker"):
            rules = policy.get(part)
            if ignored and isinstance(rules, dict) and rules.get(ignored):
                yield f"networkPolicy.{part}.{ignored} cannot be set with mode {mode}"
        names = set()
        workers = cluster.spec.get("workerGroupSpecs")
        for group in workers if isinstance(workers, list) else []:
            name = group.get("groupName") if isinstance(group, dict) else None
            if isinstance(name, str):
                if len(name) > 63 or not DNS1123_LABEL.match(name):
                    yield (
                        f"worker group name {name!r} must be a DNS-1123 label with a "
                        "networkPolicy (it is part of the NetworkPolicy's name)"
                    )
                names.add(name)
        entries = policy.get("workerGroups")
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            name = entry.get("groupName")
            if ignored and entry.get(ignored):
                yield f"networkPolicy.workerGroups[{name!r}].{ignored} cannot be set with mode {mode}"
            if name not in names:
                yield f"networkPolicy.workerGroups[{name!r}] names no worker group"


TLS_GATE = "RayClusterMTLS"
TLS_ENV = ("RAY_USE_TLS", "RAY_TLS_SERVER_CERT", "RAY_TLS_SERVER_KEY", "RAY_TLS_CA_CERT")
TLS_VOLUME, TLS_PATH = "ray-tls", "/etc/ray/tls"


@register
class TlsOptions(Rule):
    """`spec.tlsOptions` without its feature gate, or TLS settings KubeRay manages set by hand.

    What it does
        Errors when `tlsOptions` is set and the RayClusterMTLS feature gate is off. With the
        gate on and `tlsOptions.enabled: true`, errors when the Ray container of the head or of
        a worker group, or `autoscalerOptions`, sets `RAY_USE_TLS` or `RAY_TLS_*` env vars, or
        a volume mount named `ray-tls` or at `/etc/ray/tls`.

    Why is this bad?
        KubeRay refuses the cluster: with mTLS on it issues the certificates, mounts them and
        sets Ray's TLS variables itself; a hand-set one would silently override its own.

    Example
        tlsOptions: {enabled: true}
        # head container env: [{name: RAY_USE_TLS, value: "1"}]

    Use instead
        tlsOptions: {enabled: true}  # and no TLS env or mounts of your own
    """

    code = "SR119"
    name = "tls-options"
    severity = Severity.ERROR
    fix = "Turn the RayClusterMTLS gate on and leave TLS env vars and mounts to KubeRay."
    kuberay = (
        "validation.go ValidateRayClusterSpec: tlsOptions needs the RayClusterMTLS gate",
        "validation.go validateTLSOptions: no RAY_USE_TLS/RAY_TLS_* env in head, worker or autoscaler containers",
        "validation.go validateTLSOptions: no ray-tls volume mount or /etc/ray/tls mount path there",
    )

    def check(self, ctx):
        for cluster, options, _, off in _gated(self, ctx, "tlsOptions", TLS_GATE):
            if off:
                yield off
                continue
            if not (isinstance(options, dict) and options.get("enabled") is True):
                continue
            for path, where, container in self._places(cluster):
                for name in TLS_ENV:
                    if name in _env_list(container):
                        yield self.finding(
                            cluster.doc,
                            path,
                            f"{_who(cluster)}: {where} sets {name}, which KubeRay manages "
                            "with tlsOptions",
                        )
                for mount in _mounts(container):
                    if mount.get("name") == TLS_VOLUME or mount.get("mountPath") == TLS_PATH:
                        yield self.finding(
                            cluster.doc,
                            path,
                            f"{_who(cluster)}: {where} mounts {mount.get('name')!r} at "
                            f"{mount.get('mountPath')!r}; KubeRay mounts {TLS_VOLUME!r} at "
                            f"{TLS_PATH} with tlsOptions",
                        )

    @staticmethod
    def _places(cluster):
        for name, group, path in cluster.groups():
            found = _containers(group)
            if found:
                index, container = found
                where = "the head" if name == "head" else f"worker group {name!r}"
                yield (*path, "template", "spec", "containers", index), where, container
        options = cluster.spec.get("autoscalerOptions")
        if isinstance(options, dict):
            yield cluster.at("autoscalerOptions"), "autoscalerOptions", options


HISTORY_GATE = "RayClusterHistoryServer"
COLLECTOR = "ray-history-collector"
COLLECTOR_RESERVED_ENV = (
    "POD_IP",
    "FQ_RAY_IP",
    "RAY_CLUSTER_NAME",
    "RAY_CLUSTER_NAMESPACE",
    "RAY_ROLE",
    "OWNER_KIND",
    "OWNER_NAME",
    "EVENTS_PORT",
)
# STORAGE_BACKEND -> env vars it needs (all of them), from validateCollectorOptions
BACKEND_NEEDS = {
    "GCS": ("GCS_BUCKET",),
    "S3": ("S3_REGION",),
    "ALIYUNOSS": ("OSS_BUCKET", "OSS_ENDPOINT", "OSS_REGION"),
}


@register
class HistoryServer(Rule):
    """`spec.historyServerOptions` without its feature gate, or a collector that cannot run.

    What it does
        Errors when `historyServerOptions` is set and the RayClusterHistoryServer feature gate
        is off; when `collectorOptions` is missing or has no `image`; when its `env` sets a
        variable KubeRay injects (`POD_IP`, `RAY_CLUSTER_NAME`, `EVENTS_PORT`, ...), lacks a
        literal `STORAGE_BACKEND`, or lacks what that backend needs (GCS: `GCS_BUCKET`; S3:
        `S3_REGION`; ALIYUNOSS: `OSS_BUCKET`, `OSS_ENDPOINT`, `OSS_REGION`; AZUREBLOB: a
        connection string or account URL as `AZURE_STORAGE_AUTH_MODE` asks); and when a Pod
        template already has a container named `ray-history-collector`.

    Why is this bad?
        KubeRay refuses the cluster: it adds the collector sidecar itself, and a collector
        without its storage settings cannot upload the history.

    Example
        historyServerOptions: {collectorOptions: {image: collector:1}}

    Use instead
        historyServerOptions:
          collectorOptions:
            image: collector:1
            env: [{name: STORAGE_BACKEND, value: GCS}, {name: GCS_BUCKET, value: my-bucket}]
    """

    code = "SR120"
    name = "history-server"
    severity = Severity.ERROR
    fix = "Turn the gate on and give the collector an image and its storage backend's env."
    kuberay = (
        "validation.go ValidateRayClusterSpec: historyServerOptions needs the RayClusterHistoryServer gate",
        "validation.go ValidateRayClusterSpec: historyServerOptions.collectorOptions set",
        "validation.go validateCollectorOptions: image, reserved env, STORAGE_BACKEND and each backend's env",
        "validation.go ValidateRayClusterSpec: no container named ray-history-collector in head or worker templates",
    )

    def check(self, ctx):
        for cluster, options, where, off in _gated(self, ctx, "historyServerOptions", HISTORY_GATE):
            if off:
                yield off
                continue
            collector = options.get("collectorOptions") if isinstance(options, dict) else None
            if not isinstance(collector, dict):
                yield self.finding(
                    cluster.doc,
                    where,
                    f"{_who(cluster)}: historyServerOptions.collectorOptions must be set",
                )
                continue
            for problem in self._collector(collector):
                yield self.finding(
                    cluster.doc, (*where, "collectorOptions"), f"{_who(cluster)}: {problem}"
                )
            for name, group, path in cluster.groups():
                containers = pod_spec(group).get("containers")
                for c in containers if isinstance(containers, list) else []:
                    if isinstance(c, dict) and c.get("name") == COLLECTOR:
                        yield self.finding(
                            cluster.doc,
                            path,
                            f"{_who(cluster)}: group {name!r} has a container named "
                            f"{COLLECTOR!r}, which KubeRay adds with historyServerOptions",
                        )

    @staticmethod
    def _collector(collector: dict):
        if not collector.get("image"):
            yield "historyServerOptions.collectorOptions.image must be set"
            return
        env: dict[str, dict] = {}
        for item in collector.get("env") or []:
            if isinstance(item, dict) and "name" in item:
                env[str(item["name"])] = item

        def has(name: str) -> bool:
            item = env.get(name)
            return item is not None and (bool(item.get("value")) or "valueFrom" in item)

        for name in COLLECTOR_RESERVED_ENV:
            if name in env:
                yield f"collectorOptions.env sets {name}, which KubeRay injects"
                return
        backend = env.get("STORAGE_BACKEND", {}).get("value")
        if not backend:
            yield "collectorOptions.env needs STORAGE_BACKEND with a literal value"
            return
        backend = str(backend).upper()
        for name in BACKEND_NEEDS.get(backend, ()):
            if not has(name):
                yield f"collectorOptions.env needs {name} with STORAGE_BACKEND {backend}"
                return
        if backend == "AZUREBLOB":
            mode = str(env.get("AZURE_STORAGE_AUTH_MODE", {}).get("value") or "").strip().lower()
            if mode == "connection_string":
                needs = ["AZURE_STORAGE_CONNECTION_STRING"]
            elif mode in ("workload_identity", "default"):
                needs = ["AZURE_STORAGE_ACCOUNT_URL"]
            else:
                needs = ["AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_URL"]
            if not any(has(n) for n in needs):
                yield f"collectorOptions.env needs {' or '.join(needs)} with STORAGE_BACKEND AZUREBLOB"
