"""SR1xx: KubeRay parity: what KubeRay 1.7 rejects (CRD schema, then its own validation).

KubeRay's validating webhook is off by default, so the operator only finds these at reconcile
time: the RayCluster is stored, then sits with an `InvalidRayClusterSpec` event and no Pods.
These rules restate KubeRay's checks (ray-operator `utils/validation.go`) in our own words.
"""

from __future__ import annotations

from ..._k8s_names import DNS1035_LABEL, DNS1123_LABEL, label_key_problem, label_value_problem
from ..._versions import TOKEN_AUTH_MIN_RAY, kuberay_version
from .._context import (
    FT_ANNOTATION,
    V2_ENV,
    annotations_of,
    as_int,
    autoscaler_v2,
    autoscaler_v2_option,
    autoscaling_enabled,
    env_of,
    gcs_ft_enabled,
    groups,
    head_env,
    pod_spec,
    ray_container,
)
from .._finding import Severity
from .._kuberay import gate_note
from .._registry import Rule, register
from .._schema import raycluster_schema, validate

RAY_START_RESOURCES = ("num-cpus", "num-gpus", "memory", "resources")
# KubeRay's Max*NameLength (a RayCronJob's RayJob names get an 11-character suffix)
NAME_LIMITS = {"RayCluster": 53, "RayJob": 47, "RayService": 47, "RayCronJob": 36}
PRIORITY_MIN_RAY = (2, 56)
AUTH_MIN_RAY = TOKEN_AUTH_MIN_RAY
DELETION_GATE = "RayJobDeletionPolicy"


def _field(path) -> str:
    """A document path as a field name: `spec.workerGroupSpecs[0].minReplicas`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _elided(head: object) -> bool:
    """`headGroupSpec: {}`: the head is not shown (as in the seed); SR202 reports it."""
    return head == {}


@register
class CrdSchema(Rule):
    """The RayCluster does not match KubeRay's CustomResourceDefinition.

    What it does
        Validates the RayCluster spec (also inside a RayJob or RayService) against the `v1`
        schema of KubeRay 1.7's RayCluster CRD, packaged with spotray: types, required fields,
        enumerations, patterns (e.g. resource quantities) and integer ranges. A field the schema
        does not know is a warning.

    Why is this bad?
        The API server rejects the object on `kubectl apply`. An unknown field is usually a typo
        (`minReplica`): `kubectl` rejects it under strict field validation, and without it the
        API server silently drops the field, so the setting never takes effect.

    Example
        workerGroupSpecs: [{groupName: w, minReplicas: "1", maxReplica: 4, template: ...}]

    Use instead
        workerGroupSpecs: [{groupName: w, minReplicas: 1, maxReplicas: 4, template: ...}]
    """

    code = "SR100"
    name = "crd-schema"
    severity = Severity.ERROR
    fix = "Correct the field as the CRD defines it (see `kubectl explain raycluster.spec`)."
    kuberay = (
        "CRD ray.io_rayclusters.yaml: the structural schema (types, required, enums, patterns) of spec, also inside a RayJob or RayService",
        "CRD ray.io_rayservices.yaml: spec.rayClusterConfig is required",
    )

    def check(self, ctx):
        spec_schema = raycluster_schema()["properties"]["spec"]
        for cluster in ctx.clusters:
            head_elided = _elided(cluster.spec.get("headGroupSpec"))
            for v in validate(cluster.spec, spec_schema, cluster.prefix):
                if head_elided and v.path[len(cluster.prefix) :][:1] == ("headGroupSpec",):
                    continue
                yield self.finding(
                    cluster.doc,
                    v.path,
                    f"{cluster.kind} {cluster.name!r}: {_field(v.path)}: {v.message}",
                    severity=Severity.WARNING if v.unknown_field else None,
                )
        # the RayService CRD (v1.7.0 ray.io_rayservices.yaml) requires its cluster spec
        for obj in ctx.docs.ray_objects:
            if obj.kind == "RayService" and not isinstance(obj.spec.get("rayClusterConfig"), dict):
                yield self.finding(
                    obj.doc,
                    ("spec",),
                    f"RayService {obj.name!r}: spec.rayClusterConfig is required",
                )


@register
class ClusterName(Rule):
    """The RayCluster (RayJob, RayService) name is too long or not a DNS-1035 label.

    What it does
        Checks `metadata.name`: at most 53 characters for a RayCluster (47 for a RayJob or
        RayService, whose cluster name gets a 6-character suffix), lowercase letters, digits and
        '-', starting with a letter.

    Why is this bad?
        KubeRay names Services after the cluster (`<name>-serve-svc` must fit 63 characters) and
        refuses the cluster (`InvalidRayClusterMetadata`): no Pods are created.

    Example
        metadata: {name: My_Cluster}

    Use instead
        metadata: {name: my-cluster}
    """

    code = "SR101"
    name = "cluster-name"
    severity = Severity.ERROR
    fix = "Use a name of lowercase letters, digits and '-', starting with a letter, short enough."
    kuberay = (
        "validation.go ValidateRayClusterMetadata: name at most 53 characters, a DNS-1035 label",
        "validation.go ValidateRayJobMetadata: name at most 47 characters, a DNS-1035 label",
        "validation.go ValidateRayServiceMetadata: name at most 47 characters, a DNS-1035 label",
        "webhooks/v1 validateRayCluster/RayJob/RayService: the same metadata checks",
    )

    def check(self, ctx):
        for cluster in ctx.docs.ray_objects:  # a RayJob that selects a cluster too
            name = cluster.metadata.get("name")
            if not isinstance(name, str) or not name:
                continue  # generateName or a template: nothing to check
            limit = NAME_LIMITS[cluster.kind]
            problem = None
            if len(name) > limit:
                problem = f"is {len(name)} characters long; at most {limit}"
            elif not DNS1035_LABEL.match(name):
                problem = "is not a DNS-1035 label (lowercase letters, digits, '-'; a letter first)"
            if problem:
                yield self.finding(
                    cluster.doc,
                    ("metadata", "name"),
                    f"{cluster.kind} {name!r}: metadata.name {problem}",
                )


@register
class GroupNames(Rule):
    """A worker group name is repeated or is not a DNS-1123 label (KubeRay accepts both).

    What it does
        Warns when a `workerGroupSpecs[].groupName` appears twice in a cluster, or is not a
        DNS-1123 label (lowercase letters, digits and '-', at most 63 characters).

    Why is this bad?
        A default KubeRay 1.7 install accepts both: only its optional webhook refuses repeated
        names, and it lowercases names into Pod names (its code says upper-case names work).
        But KubeRay keys scaling and the autoscaler's node types by group name, so two groups
        with one name scale as one; and a name that is not a DNS-1123 label cannot be used with
        a `networkPolicy` (SR118), whose object names embed it.

    Example
        workerGroupSpecs: [{groupName: cpu, ...}, {groupName: cpu, ...}]

    Use instead
        workerGroupSpecs: [{groupName: cpu-spot, ...}, {groupName: cpu-ondemand, ...}]
    """

    code = "SR102"
    name = "group-names"
    severity = Severity.WARNING
    fix = "Give each worker group its own DNS-1123 name."
    kuberay = (
        "webhooks/v1 raycluster_webhook.go validateWorkerGroups: worker group names unique (webhook only: a warning)",
    )

    def check(self, ctx):
        for cluster in ctx.clusters:
            seen: set[str] = set()
            for group in groups(ctx, workers=True, cluster=cluster):
                name = group.spec.get("groupName")
                if not isinstance(name, str):
                    continue  # missing or not a string: SR100
                where = group.at("groupName")
                if name in seen:
                    yield self.finding(
                        cluster.doc,
                        where,
                        f"{group.label}: groupName is used by another group (KubeRay's "
                        "optional webhook refuses it; the two groups would scale as one)",
                    )
                elif len(name) > 63 or not DNS1123_LABEL.match(name):
                    yield self.finding(
                        cluster.doc,
                        where,
                        f"{group.label}: groupName is not a DNS-1123 label (lowercase "
                        "letters, digits, '-', at most 63 characters); KubeRay accepts it, "
                        "but not with a networkPolicy",
                    )
                seen.add(name)


@register
class NoContainer(Rule):
    """A head or worker Pod template without containers.

    What it does
        Checks that `template.spec.containers` of the head and of every worker group holds at
        least one container (KubeRay runs Ray in the first one). A head written as
        `headGroupSpec: {}` is read as left out of an excerpt (as in the seed article's file):
        SR202 reports that it has no placement, and SR100 and SR103 say nothing of it.

    Why is this bad?
        KubeRay refuses the cluster: there is nothing to run Ray in.

    Example
        headGroupSpec: {template: {spec: {containers: []}}}

    Use instead
        headGroupSpec: {template: {spec: {containers: [{name: ray-head, image: rayproject/ray:2.60.0}]}}}
    """

    code = "SR103"
    name = "no-container"
    severity = Severity.ERROR
    fix = "Add the Ray container (image rayproject/ray:<rayVersion>) to the Pod template."
    kuberay = (
        "validation.go ValidateRayClusterSpec: headGroupSpec has at least one container",
        "validation.go ValidateRayClusterSpec: each workerGroupSpec has at least one container",
    )

    def check(self, ctx):
        for group in groups(ctx):
            if group.head and _elided(group.spec):
                continue
            if ray_container(group.spec) is None:
                yield self.finding(
                    group.cluster.doc,
                    group.at("template", "spec", "containers"),
                    f"{group.label}: template.spec.containers is empty; Ray needs a container",
                )


@register
class ReplicaBounds(Rule):
    """minReplicas, maxReplicas and replicas are out of order.

    What it does
        Errors when `minReplicas` or `maxReplicas` is negative or `minReplicas` is greater
        than `maxReplicas`; warns when
        `replicas` lies outside `[minReplicas, maxReplicas]` (KubeRay clamps it).

    Why is this bad?
        KubeRay cannot scale a group whose lower bound exceeds its upper bound. A `replicas`
        outside the bounds is silently changed, so the cluster starts with a size the manifest
        does not show.

    Example
        {minReplicas: 4, maxReplicas: 2, replicas: 8}

    Use instead
        {minReplicas: 2, maxReplicas: 4, replicas: 2}
    """

    code = "SR104"
    name = "replica-bounds"
    severity = Severity.ERROR
    fix = "Keep 0 <= minReplicas <= replicas <= maxReplicas."
    kuberay = (
        "validation.go ValidateRayClusterSpec: minReplicas not negative",
        "validation.go ValidateRayClusterSpec: maxReplicas not negative",
        "validation.go ValidateRayClusterSpec: minReplicas not greater than maxReplicas",
    )

    def check(self, ctx):
        for group in groups(ctx, workers=True):
            lo, hi, n = (group.spec.get(k) for k in ("minReplicas", "maxReplicas", "replicas"))
            lo_ok, hi_ok = as_int(lo) is not None, as_int(hi) is not None
            doc = group.cluster.doc
            if lo_ok and lo < 0:
                yield self.finding(
                    doc, group.at("minReplicas"), f"{group.label}: minReplicas {lo} is negative"
                )
            if hi_ok and hi < 0:
                yield self.finding(
                    doc, group.at("maxReplicas"), f"{group.label}: maxReplicas {hi} is negative"
                )
            if lo_ok and hi_ok and lo > hi:
                yield self.finding(
                    doc,
                    group.at("minReplicas"),
                    f"{group.label}: minReplicas {lo} is greater than maxReplicas {hi}",
                )
            elif as_int(n) is not None and ((lo_ok and n < lo) or (hi_ok and n > hi)):
                bound = lo if lo_ok and n < lo else hi
                yield self.finding(
                    doc,
                    group.at("replicas"),
                    f"{group.label}: replicas {n} is outside [{lo if lo_ok else 0}, "
                    f"{hi if hi_ok else 'max'}]; KubeRay will use {bound}",
                    severity=Severity.WARNING,
                )


@register
class FixedSizeBounds(Rule):
    """With autoscaling off, a worker group leaves minReplicas or maxReplicas unset.

    What it does
        Notes when `enableInTreeAutoscaling` is not true and a worker group does not set both
        `minReplicas` and `maxReplicas`. KubeRay 1.7 accepts this: its CRD defaults them to 0
        and 2147483647 (older KubeRay releases required them).

    Why is this bad?
        Without the autoscaler only `replicas` decides the size, clamped to the bounds; with the
        defaults nothing bounds it, so a `replicas` typo or a later patch can grow the group
        without limit, and readers cannot tell the intended size.

    Example
        enableInTreeAutoscaling: false
        workerGroupSpecs: [{groupName: w, replicas: 4, ...}]

    Use instead
        workerGroupSpecs: [{groupName: w, replicas: 4, minReplicas: 4, maxReplicas: 4, ...}]
    """

    code = "SR105"
    name = "fixed-size-bounds"
    severity = Severity.INFO
    fix = "Set minReplicas and maxReplicas (equal to replicas for a fixed-size group)."
    kuberay = (
        "validation.go ValidateRayClusterSpec: minReplicas and maxReplicas set when autoscaling is off (the CRD defaults them first: info)",
    )

    def check(self, ctx):
        for group in groups(ctx, workers=True):
            if autoscaling_enabled(group.cluster.spec):
                continue
            missing = [k for k in ("minReplicas", "maxReplicas") if k not in group.spec]
            if missing:
                yield self.finding(
                    group.cluster.doc,
                    group.path,
                    f"{group.label}: {' and '.join(missing)} not set with autoscaling off",
                )


@register
class ResourcesConflict(Rule):
    """A group sets Ray resources both in `resources` and in `rayStartParams`.

    What it does
        Errors when a group has a `resources` map and also `num-cpus`, `num-gpus`, `memory` or
        `resources` in `rayStartParams`.

    Why is this bad?
        KubeRay refuses the cluster: the two are alternative ways to tell Ray what the node
        offers, and it will not guess which one wins.

    Example
        {resources: {CPU: "4"}, rayStartParams: {num-cpus: "4"}}

    Use instead
        {resources: {CPU: "4"}, rayStartParams: {}}
    """

    code = "SR106"
    name = "resources-conflict"
    severity = Severity.ERROR
    fix = "Keep the group's Ray resources in one place: `resources` (preferred) or rayStartParams."
    kuberay = (
        "validation.go validateRayGroupResources: resources not in both rayStartParams and `resources`",
    )

    def check(self, ctx):
        for group in groups(ctx):
            params = group.spec.get("rayStartParams")
            resources = group.spec.get("resources")
            if not (isinstance(params, dict) and isinstance(resources, dict) and resources):
                continue
            clash = [k for k in RAY_START_RESOURCES if params.get(k) not in (None, "")]
            if clash:
                yield self.finding(
                    group.cluster.doc,
                    group.at("rayStartParams", clash[0]),
                    f"{group.label}: rayStartParams {', '.join(clash)} and `resources` are both "
                    "set",
                )


@register
class RayLabels(Rule):
    """Ray node labels given in rayStartParams, or not valid Kubernetes labels.

    What it does
        Errors on `rayStartParams.labels`, and on keys or values of a group's `labels` that are
        not valid Kubernetes label keys (`[prefix/]name`) and values.

    Why is this bad?
        KubeRay refuses the cluster: Ray node labels belong in the group's top-level `labels`
        field, which KubeRay passes to Ray and also validates as Kubernetes labels.

    Example
        rayStartParams: {labels: "tier=spot"}

    Use instead
        labels: {tier: spot}
    """

    code = "SR107"
    name = "ray-labels"
    severity = Severity.ERROR
    fix = "Move Ray node labels to the group's `labels` map, with valid label keys and values."
    kuberay = (
        "validation.go validateRayGroupLabels: no rayStartParams.labels",
        "validation.go validateRayGroupLabels: label keys and values valid",
    )

    def check(self, ctx):
        for group in groups(ctx):
            doc = group.cluster.doc
            params = group.spec.get("rayStartParams")
            # a null is pruned by the API server before KubeRay sees it
            if isinstance(params, dict) and params.get("labels") is not None:
                yield self.finding(
                    doc,
                    group.at("rayStartParams", "labels"),
                    f"{group.label}: rayStartParams.labels is not supported; use `labels`",
                )
            labels = group.spec.get("labels")
            for key, value in (labels if isinstance(labels, dict) else {}).items():
                problem = label_key_problem(str(key))
                if problem is None and isinstance(value, str):
                    problem = label_value_problem(value)
                if problem:
                    yield self.finding(
                        doc, group.at("labels", key), f"{group.label}: labels[{key!r}]: {problem}"
                    )


@register
class IdleTimeout(Rule):
    """A worker group's idleTimeoutSeconds is negative or set without autoscaler v2.

    What it does
        Errors when `workerGroupSpecs[].idleTimeoutSeconds` is negative, or is set while the
        cluster does not run autoscaler v2 (`autoscalerOptions.version: v2`, or
        `RAY_enable_autoscaler_v2` on the head).

    Why is this bad?
        KubeRay refuses it: only autoscaler v2 reads per-group idle timeouts.

    Example
        autoscalerOptions: {version: v1}
        workerGroupSpecs: [{groupName: w, idleTimeoutSeconds: 60, ...}]

    Use instead
        autoscalerOptions: {version: v2}
    """

    code = "SR108"
    name = "idle-timeout"
    severity = Severity.ERROR
    fix = "Use autoscaler v2 (autoscalerOptions.version: v2), or set autoscalerOptions.idleTimeoutSeconds."
    kuberay = (
        "validation.go validateWorkerGroupIdleTimeout: not negative",
        "validation.go validateWorkerGroupIdleTimeout: needs autoscaler v2 (version or head env exactly 1/true)",
    )

    def check(self, ctx):
        for group in groups(ctx, workers=True):
            value = group.spec.get("idleTimeoutSeconds")
            if as_int(value) is None:
                continue
            where = group.at("idleTimeoutSeconds")
            if value < 0:
                yield self.finding(
                    group.cluster.doc, where, f"{group.label}: idleTimeoutSeconds {value} < 0"
                )
            elif not autoscaler_v2(group.cluster.spec):
                yield self.finding(
                    group.cluster.doc,
                    where,
                    f"{group.label}: idleTimeoutSeconds needs autoscaler v2",
                )


@register
class GroupPriority(Rule):
    """A non-zero worker group priority without Ray 2.56+ and autoscaler v2.

    What it does
        Errors when `workerGroupSpecs[].priority` is non-zero while `rayVersion` is missing or
        older than 2.56, or neither `autoscalerOptions.version: v2` nor the head's
        `RAY_enable_autoscaler_v2` (`1` or `true`) asks for autoscaler v2.

    Why is this bad?
        Only autoscaler v2 of Ray 2.56 and later orders node types by priority; elsewhere the
        field is refused (KubeRay 1.7), or ignored and the spot-first fallback you meant never
        happens.

    Example
        rayVersion: "2.41.0"
        workerGroupSpecs: [{groupName: cpu-spot, priority: 10, ...}]

    Use instead
        rayVersion: "2.60.0"
        autoscalerOptions: {version: v2}
    """

    code = "SR109"
    name = "group-priority"
    severity = Severity.ERROR
    fix = "Use rayVersion >= 2.56 with autoscalerOptions.version: v2, or drop `priority`."
    kuberay = (
        "validation.go validateWorkerGroupPriority: rayVersion set, parseable, >= 2.56.0",
        "validation.go validateWorkerGroupPriority: needs autoscaler v2 (version or head env exactly 1/true)",
    )

    def check(self, ctx):
        for group in groups(ctx, workers=True):
            priority = group.spec.get("priority")
            if not as_int(priority):
                continue
            spec = group.cluster.spec
            version = kuberay_version(spec.get("rayVersion"))
            missing = []
            if version is None or version[:2] < PRIORITY_MIN_RAY:
                missing.append(f"rayVersion >= 2.56 (is {spec.get('rayVersion')!r})")
            if not autoscaler_v2(spec):
                missing.append("autoscaler v2")
            if missing:
                yield self.finding(
                    group.cluster.doc,
                    group.at("priority"),
                    f"{group.label}: priority {priority} needs {' and '.join(missing)}",
                )


@register
class AutoscalerV2Switch(Rule):
    """RAY_enable_autoscaler_v2 on the head conflicts with the autoscaling settings.

    What it does
        Errors when the head's `RAY_enable_autoscaler_v2` is `1`/`true` while
        `enableInTreeAutoscaling` is off, or when it is set at all together with
        `autoscalerOptions.version`.

    Why is this bad?
        KubeRay refuses both: v2 needs the in-tree autoscaler, and `autoscalerOptions.version`
        is now the one switch (the env var is the older way).

    Example
        enableInTreeAutoscaling: true
        autoscalerOptions: {version: v2}
        # and on the head container: env: [{name: RAY_enable_autoscaler_v2, value: "1"}]

    Use instead
        autoscalerOptions: {version: v2}  # and no RAY_enable_autoscaler_v2
    """

    code = "SR110"
    name = "autoscaler-v2-switch"
    severity = Severity.ERROR
    fix = "Remove RAY_enable_autoscaler_v2 from the head; use autoscalerOptions.version: v2."
    kuberay = (
        "validation.go ValidateRayClusterSpec: head RAY_enable_autoscaler_v2 1/true needs enableInTreeAutoscaling",
        "validation.go ValidateRayClusterSpec: not both autoscalerOptions.version and head RAY_enable_autoscaler_v2",
    )

    def check(self, ctx):
        for cluster in ctx.clusters:
            spec = cluster.spec
            env = head_env(spec)
            if V2_ENV not in env:
                continue
            where = cluster.at("headGroupSpec", "template", "spec", "containers", 0, "env")
            options = spec.get("autoscalerOptions")
            if not autoscaling_enabled(spec):
                if env[V2_ENV] in ("1", "true"):  # KubeRay compares exactly
                    yield self.finding(
                        cluster.doc,
                        where,
                        f"{cluster.kind} {cluster.name!r}: head env {V2_ENV} is on but "
                        "enableInTreeAutoscaling is not true",
                    )
            elif isinstance(options, dict) and options.get("version") is not None:
                yield self.finding(
                    cluster.doc,
                    where,
                    f"{cluster.kind} {cluster.name!r}: both autoscalerOptions.version and head "
                    f"env {V2_ENV} are set",
                )


@register
class SuspendedGroup(Rule):
    """A suspended worker group that KubeRay will not accept.

    What it does
        Errors on `workerGroupSpecs[].suspend: true` when the in-tree autoscaler is enabled,
        and when KubeRay's RayJobDeletionPolicy feature gate is off (it is on by default in
        1.7, a Beta gate).

    Why is this bad?
        KubeRay refuses the cluster: the autoscaler would scale a suspended group back up, and
        suspending a group belongs to the RayJob deletion policies the gate turns on.

    Example
        enableInTreeAutoscaling: true
        workerGroupSpecs: [{groupName: w, suspend: true, ...}]

    Use instead
        workerGroupSpecs: [{groupName: w, replicas: 0, minReplicas: 0, ...}]
    """

    code = "SR111"
    name = "suspended-group"
    severity = Severity.ERROR
    fix = "Scale the group to 0 instead, or turn autoscaling off (and the gate on)."
    kuberay = (
        "validation.go ValidateRayClusterSpec: no suspended group with autoscaling",
        "validation.go ValidateRayClusterSpec: a suspended group needs the RayJobDeletionPolicy gate",
    )

    def check(self, ctx):
        gate_on = ctx.docs.gates.get(DELETION_GATE, False)
        for group in groups(ctx, workers=True):
            if group.spec.get("suspend") is not True:
                continue
            if autoscaling_enabled(group.cluster.spec):
                yield self.finding(
                    group.cluster.doc,
                    group.at("suspend"),
                    f"{group.label}: a group cannot be suspended with autoscaling enabled",
                )
            if not gate_on:
                yield self.finding(
                    group.cluster.doc,
                    group.at("suspend"),
                    f"{group.label}: suspend needs {gate_note(DELETION_GATE)}",
                )


@register
class RestartPolicyV2(Rule):
    """A Pod restartPolicy other than Never under autoscaler v2.

    What it does
        Errors when autoscaling is on with `autoscalerOptions.version: v2` and the head or a
        worker template sets `restartPolicy` to anything but `Never` (KubeRay does not apply
        this check when v2 is switched on by the head's env var).

    Why is this bad?
        Autoscaler v2 tracks each Ray node by its Pod: a container restarted in place comes
        back as a new Ray node inside an old Pod, which v2 cannot account for. KubeRay refuses
        the cluster.

    Example
        template: {spec: {restartPolicy: Always, ...}}

    Use instead
        template: {spec: {restartPolicy: Never, ...}}
    """

    code = "SR112"
    name = "restart-policy-v2"
    severity = Severity.ERROR
    fix = "Set restartPolicy: Never (or leave it unset) on the head and worker templates."
    kuberay = (
        "validation.go ValidateRayClusterSpec: head and worker restartPolicy Never or unset with autoscalerOptions.version v2",
    )

    def check(self, ctx):
        for group in groups(ctx):
            spec = group.cluster.spec
            # KubeRay reads only autoscalerOptions.version here, not the head's env switch
            if not (autoscaling_enabled(spec) and autoscaler_v2_option(spec)):
                continue
            policy = pod_spec(group.spec).get("restartPolicy")
            if policy not in (None, "", "Never"):
                yield self.finding(
                    group.cluster.doc,
                    group.at("template", "spec", "restartPolicy"),
                    f"{group.label}: restartPolicy {policy!r} under autoscaler v2; must be Never",
                )


@register
class AutoscalerOptions(Rule):
    """autoscalerOptions with a negative idle timeout or KubeRay's reserved env var.

    What it does
        Errors on `autoscalerOptions.idleTimeoutSeconds` < 0 and on
        `KUBERAY_GEN_AUTOSCALER_START_CMD` in `autoscalerOptions.env`.

    Why is this bad?
        KubeRay refuses both: the variable is KubeRay's own way to build the autoscaler's
        command line and must not be overridden.

    Example
        autoscalerOptions: {idleTimeoutSeconds: -1}

    Use instead
        autoscalerOptions: {idleTimeoutSeconds: 60}
    """

    code = "SR113"
    name = "autoscaler-options"
    severity = Severity.ERROR
    fix = "Use a non-negative idleTimeoutSeconds; remove KUBERAY_GEN_AUTOSCALER_START_CMD."
    kuberay = (
        "validation.go ValidateRayClusterSpec: autoscalerOptions.idleTimeoutSeconds not negative",
        "validation.go ValidateRayClusterSpec: no KUBERAY_GEN_AUTOSCALER_START_CMD in autoscalerOptions.env",
    )

    def check(self, ctx):
        for cluster in ctx.clusters:
            options = cluster.spec.get("autoscalerOptions")
            if not isinstance(options, dict):
                continue
            who = f"{cluster.kind} {cluster.name!r}"
            timeout = options.get("idleTimeoutSeconds")
            if as_int(timeout) is not None and timeout < 0:
                yield self.finding(
                    cluster.doc,
                    cluster.at("autoscalerOptions", "idleTimeoutSeconds"),
                    f"{who}: autoscalerOptions.idleTimeoutSeconds {timeout} < 0",
                )
            if "KUBERAY_GEN_AUTOSCALER_START_CMD" in env_of(options):
                yield self.finding(
                    cluster.doc,
                    cluster.at("autoscalerOptions", "env"),
                    f"{who}: autoscalerOptions.env sets KUBERAY_GEN_AUTOSCALER_START_CMD, "
                    "which KubeRay reserves",
                )


@register
class GcsFaultTolerance(Rule):
    """GCS fault tolerance configured two ways, or half-configured.

    What it does
        Errors, as KubeRay does, when the `ray.io/ft-enabled` annotation and
        `gcsFaultToleranceOptions` are both set; when the head sets `RAY_REDIS_ADDRESS` without
        GCS fault tolerance; when `gcsFaultToleranceOptions` is set and the head also sets
        `redis-password` (rayStartParams), `REDIS_PASSWORD` or `RAY_REDIS_ADDRESS` (env), or the
        `ray.io/external-storage-namespace` annotation; and when a Redis username is given in
        rayStartParams (`redis-username`) or env (`REDIS_USERNAME`).

    Why is this bad?
        KubeRay refuses the cluster: `gcsFaultToleranceOptions` is the one place for Redis
        settings, and the older ways would silently disagree with it.

    Example
        metadata: {annotations: {ray.io/ft-enabled: "true"}}
        spec: {gcsFaultToleranceOptions: {redisAddress: "redis:6379"}}

    Use instead
        spec: {gcsFaultToleranceOptions: {redisAddress: "redis:6379"}}  # no annotation
    """

    code = "SR114"
    name = "gcs-fault-tolerance"
    severity = Severity.ERROR
    fix = "Configure GCS fault tolerance only through spec.gcsFaultToleranceOptions."
    kuberay = (
        "validation.go ValidateRayClusterSpec: not both ray.io/ft-enabled and gcsFaultToleranceOptions",
        "validation.go ValidateRayClusterSpec: no head RAY_REDIS_ADDRESS without GCS fault tolerance",
        "validation.go ValidateRayClusterSpec: with gcsFaultToleranceOptions, no redis-password rayStartParam, REDIS_PASSWORD or RAY_REDIS_ADDRESS env, ray.io/external-storage-namespace annotation",
        "validation.go ValidateRayClusterSpec: no redis-username rayStartParam or REDIS_USERNAME env",
    )

    def check(self, ctx):
        for cluster in ctx.clusters:
            spec = cluster.spec
            notes = annotations_of(cluster)
            env = head_env(spec)
            head = spec.get("headGroupSpec")
            params = head.get("rayStartParams") if isinstance(head, dict) else None
            params = params if isinstance(params, dict) else {}
            options = spec.get("gcsFaultToleranceOptions") is not None
            env_at = cluster.at("headGroupSpec", "template", "spec", "containers", 0, "env")
            problems = []
            if notes.get(FT_ANNOTATION) not in (None, "") and options:
                problems.append(
                    (
                        ("metadata", "annotations"),
                        f"{FT_ANNOTATION} and gcsFaultToleranceOptions are both set",
                    )
                )
            if not gcs_ft_enabled(cluster) and "RAY_REDIS_ADDRESS" in env:
                problems.append(
                    (env_at, "RAY_REDIS_ADDRESS is set but GCS fault tolerance is not enabled")
                )
            if options:
                if params.get("redis-password") not in (None, ""):
                    problems.append(
                        (
                            cluster.at("headGroupSpec", "rayStartParams"),
                            "redis-password in rayStartParams with gcsFaultToleranceOptions",
                        )
                    )
                for name in ("REDIS_PASSWORD", "RAY_REDIS_ADDRESS"):
                    if name in env:
                        problems.append((env_at, f"head env {name} with gcsFaultToleranceOptions"))
                if notes.get("ray.io/external-storage-namespace") not in (None, ""):
                    problems.append(
                        (
                            ("metadata", "annotations"),
                            "ray.io/external-storage-namespace annotation with "
                            "gcsFaultToleranceOptions",
                        )
                    )
            if params.get("redis-username") not in (None, "") or "REDIS_USERNAME" in env:
                problems.append(
                    (
                        env_at,
                        "a Redis username in rayStartParams or env; use "
                        "gcsFaultToleranceOptions.redisUsername",
                    )
                )
            for where, what in problems:
                yield self.finding(cluster.doc, where, f"{cluster.kind} {cluster.name!r}: {what}")


@register
class TokenAuthVersion(Rule):
    """Token authentication with a Ray version that does not support it.

    What it does
        Errors when `authOptions.mode` is `token` and `rayVersion` is missing or older than 2.52.

    Why is this bad?
        KubeRay refuses the cluster: Ray learned token authentication in 2.52.

    Example
        {rayVersion: "2.46.0", authOptions: {mode: token}}

    Use instead
        {rayVersion: "2.60.0", authOptions: {mode: token}}
    """

    code = "SR115"
    name = "token-auth-version"
    severity = Severity.ERROR
    fix = "Set rayVersion to 2.52.0 or later (and the image to match)."
    kuberay = (
        "validation.go ValidateRayClusterSpec: authOptions.mode token needs rayVersion set, parseable, >= 2.52.0",
    )

    def check(self, ctx):
        for cluster in ctx.clusters:
            auth = cluster.spec.get("authOptions")
            if not (isinstance(auth, dict) and auth.get("mode") == "token"):
                continue
            raw = cluster.spec.get("rayVersion")
            version = kuberay_version(raw)
            if version is None or version < AUTH_MIN_RAY:
                yield self.finding(
                    cluster.doc,
                    cluster.at("rayVersion"),
                    f"{cluster.kind} {cluster.name!r}: authOptions.mode token needs rayVersion "
                    f">= 2.52.0 (is {raw!r})",
                )
