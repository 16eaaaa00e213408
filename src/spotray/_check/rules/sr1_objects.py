"""SR1xx, continued: KubeRay 1.7's checks of a RayCluster's `upgradeStrategy` and of the
RayJob's and RayService's own fields (their embedded cluster gets every other SR1xx rule).

Restated from KubeRay v1.7.0 `ray-operator/controllers/ray/utils/validation.go`
(`ValidateRayClusterUpgradeOptions`, `ValidateRayJobSpec` and the deletion-strategy checks,
`ValidateRayServiceSpec`, `ValidateClusterUpgradeOptions`, `ValidateRayServiceMetadata`) in our
own words; tests/kuberay_parity/ holds KubeRay's own test cases for each.
"""

from __future__ import annotations

import re

import yaml

from .._context import autoscaling_enabled, pod_spec
from .._finding import Severity
from .._kuberay import gate_note
from .._registry import Rule, register

ORIGIN_LABEL = "ray.io/originated-from-crd"  # KubeRay's label on clusters it creates
CLUSTER_SELECTOR_KEY = "ray.io/cluster"
DELETION_GATE = "RayJobDeletionPolicy"
INCREMENTAL_GATE = "RayServiceIncrementalUpgrade"
DELETION_ORDER = ("DeleteWorkers", "DeleteCluster", "DeleteSelf")  # TTLs must not decrease


def _objects(ctx, kind: str):
    return (o for o in ctx.docs.ray_objects if o.kind == kind)


def _job_specs(ctx):
    """(object, RayJob spec, its path) of every RayJob, and of every RayCronJob's jobTemplate
    (KubeRay validates it as a RayJob's spec)."""
    for obj in ctx.docs.ray_objects:
        if obj.kind == "RayJob":
            yield obj, obj.spec, ("spec",)
        elif obj.kind == "RayCronJob" and isinstance(obj.spec.get("jobTemplate"), dict):
            yield obj, obj.spec["jobTemplate"], ("spec", "jobTemplate")


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@register
class RayClusterUpgradeStrategy(Rule):
    """A RayCluster `upgradeStrategy` KubeRay refuses.

    What it does
        Errors when a cluster's `upgradeStrategy.type` is not `Recreate` or `None`, and when it
        is set on a cluster that a RayJob or RayService creates: the one inside a RayJob,
        RayService or RayCronJob, or a RayCluster labelled `ray.io/originated-from-crd`.

    Why is this bad?
        KubeRay refuses the cluster: a cluster owned by a RayJob or RayService is upgraded by
        its owner, never by itself.

    Example
        metadata: {labels: {ray.io/originated-from-crd: RayService}}
        spec: {upgradeStrategy: {type: Recreate}, ...}

    Use instead
        spec: {...}  # set the upgrade strategy on the RayService
    """

    code = "SR121"
    name = "raycluster-upgrade-strategy"
    severity = Severity.ERROR
    fix = "Use type Recreate or None, and only on a RayCluster you create yourself."
    kuberay = (
        "validation.go ValidateRayClusterUpgradeOptions: upgradeStrategy.type Recreate or None",
        "validation.go ValidateRayClusterUpgradeOptions: no upgradeStrategy on a cluster created by a RayJob or RayService",
    )

    def check(self, ctx):
        for cluster in ctx.clusters:
            strategy = cluster.spec.get("upgradeStrategy")
            kind = strategy.get("type") if isinstance(strategy, dict) else None
            if kind is None:
                continue
            where = cluster.at("upgradeStrategy", "type")
            who = f"{cluster.kind} {cluster.name!r}"
            if kind not in ("Recreate", "None"):
                yield self.finding(
                    cluster.doc,
                    where,
                    f"{who}: upgradeStrategy.type {kind!r} is not Recreate or None",
                )
            if cluster.kind == "RayCluster":
                meta = (
                    cluster.doc.data.get("metadata") if isinstance(cluster.doc.data, dict) else None
                )
                labels = meta.get("labels") if isinstance(meta, dict) else None
                origin = labels.get(ORIGIN_LABEL) if isinstance(labels, dict) else None
            else:  # KubeRay creates this cluster from the RayJob/RayService, labelled so
                origin = "RayJob" if cluster.kind == "RayCronJob" else cluster.kind
            if origin in ("RayJob", "RayService"):
                yield self.finding(
                    cluster.doc,
                    where,
                    f"{who}: upgradeStrategy cannot be set on a cluster created by a {origin}",
                )


@register
class RayJobSpec(Rule):
    """A RayJob spec KubeRay refuses (its own fields; its cluster gets the other SR1xx rules).

    What it does
        Errors, as KubeRay 1.7 does, when: `suspend` is set without `shutdownAfterJobFinishes`
        or with a `clusterSelector`; neither `rayClusterSpec` nor `clusterSelector` is set; the
        `clusterSelector` has no `ray.io/cluster` name, or is used with `SidecarMode` or a
        `backoffLimit` above 0; `InteractiveMode` has a `backoffLimit` above 0; `SidecarMode`
        has a `submitterPodTemplate`, a `submitterConfig` or a head `restartPolicy` other than
        `Never`; `runtimeEnvYAML` is not a YAML mapping; `activeDeadlineSeconds` or
        `preRunningDeadlineSeconds` is not positive; `backoffLimit` or
        `ttlSecondsAfterFinished` is negative.

    Why is this bad?
        KubeRay does not run the job: each combination either cannot work (a selected cluster
        is not KubeRay's to suspend) or leaves the job in an ambiguous state (retries in
        interactive mode).

    Example
        spec: {suspend: true, shutdownAfterJobFinishes: false, ...}

    Use instead
        spec: {suspend: true, shutdownAfterJobFinishes: true, ...}
    """

    code = "SR122"
    name = "rayjob-spec"
    severity = Severity.ERROR
    fix = "Fix the RayJob field the message names."
    kuberay = (
        "validation.go ValidateRayJobSpec: suspend needs shutdownAfterJobFinishes, and no clusterSelector",
        "validation.go ValidateRayJobSpec: ttlSecondsAfterFinished not negative",
        "validation.go ValidateRayJobSpec: rayClusterSpec or clusterSelector set; the selector names a cluster; no selector with SidecarMode or backoffLimit > 0",
        "validation.go ValidateRayJobSpec: InteractiveMode with backoffLimit <= 0",
        "validation.go ValidateRayJobSpec: SidecarMode without submitterPodTemplate, submitterConfig, and head restartPolicy Never",
        "validation.go ValidateRayJobSpec: runtimeEnvYAML a YAML map",
        "validation.go ValidateRayJobSpec: activeDeadlineSeconds, preRunningDeadlineSeconds positive; backoffLimit not negative",
    )

    def check(self, ctx):
        for obj, spec, at in _job_specs(ctx):
            for field, problem in self._problems(spec):
                yield self.finding(
                    obj.doc, (*at, field) if field else at, f"{obj.kind} {obj.name!r}: {problem}"
                )

    @staticmethod
    def _problems(spec: dict):
        suspend = spec.get("suspend") is True
        shutdown = spec.get("shutdownAfterJobFinishes") is True
        selector = spec.get("clusterSelector")
        selector = selector if isinstance(selector, dict) and selector else None
        mode = spec.get("submissionMode")
        backoff = _int(spec.get("backoffLimit"))
        if suspend and not shutdown:
            yield "suspend", "suspend needs shutdownAfterJobFinishes: true"
        ttl = _int(spec.get("ttlSecondsAfterFinished"))
        if ttl is not None and ttl < 0:
            yield "ttlSecondsAfterFinished", "ttlSecondsAfterFinished must not be negative"
        if suspend and selector:
            yield "suspend", "a RayJob with a clusterSelector cannot be suspended"
        if spec.get("rayClusterSpec") is None and not selector:
            yield None, "one of rayClusterSpec or clusterSelector must be set"
        if selector:
            if not selector.get(CLUSTER_SELECTOR_KEY):
                yield "clusterSelector", f"clusterSelector needs a {CLUSTER_SELECTOR_KEY} name"
            if mode == "SidecarMode":
                yield "clusterSelector", "SidecarMode does not support a clusterSelector"
            if backoff is not None and backoff > 0:
                yield "backoffLimit", "backoffLimit > 0 does not work with a clusterSelector"
        if mode == "InteractiveMode" and backoff is not None and backoff > 0:
            yield "backoffLimit", "backoffLimit > 0 does not work with InteractiveMode"
        if mode == "SidecarMode":
            if spec.get("submitterPodTemplate") is not None:
                yield "submitterPodTemplate", "SidecarMode does not support submitterPodTemplate"
            if spec.get("submitterConfig") is not None:
                yield "submitterConfig", "SidecarMode does not support submitterConfig"
            cluster = spec.get("rayClusterSpec")
            head = cluster.get("headGroupSpec") if isinstance(cluster, dict) else None
            policy = pod_spec(head).get("restartPolicy") if isinstance(head, dict) else None
            if policy not in (None, "", "Never"):
                yield (
                    "rayClusterSpec",
                    f"SidecarMode needs head restartPolicy Never (is {policy!r})",
                )
        runtime_env = spec.get("runtimeEnvYAML")
        if isinstance(runtime_env, str) and runtime_env:
            try:
                parsed = yaml.safe_load(runtime_env)
            except yaml.YAMLError:
                parsed = ...
            if parsed is not None and not isinstance(parsed, dict):  # KubeRay reads a map
                yield "runtimeEnvYAML", "runtimeEnvYAML is not a YAML mapping"
        for name in ("activeDeadlineSeconds", "preRunningDeadlineSeconds"):
            value = _int(spec.get(name))
            if value is not None and value <= 0:
                yield name, f"{name} must be positive"
        if backoff is not None and backoff < 0:
            yield "backoffLimit", "backoffLimit must not be negative"


@register
class RayJobDeletion(Rule):
    """A RayJob's deletion settings KubeRay refuses.

    What it does
        Errors, as KubeRay 1.7 does, when `ttlSecondsAfterFinished` is set without
        `shutdownAfterJobFinishes`; and for `deletionStrategy`: when the RayJobDeletionPolicy
        feature gate is off; when `deletionRules` are combined with `shutdownAfterJobFinishes`
        or with the older `onSuccess`/`onFailure`; when it sets neither; when only one of
        `onSuccess`/`onFailure` is set, or either has no `policy`; when a policy deletes the
        cluster or its workers of a RayJob with a `clusterSelector`; when `DeleteWorkers` is
        used with autoscaling; when `shutdownAfterJobFinishes` meets a `DeleteNone` policy; and
        for each rule, when its condition sets both or neither of `jobStatus` and
        `jobDeploymentStatus` or a negative `ttlSeconds`, repeats a (status, policy) pair, or
        deletes in the wrong order (TTLs of DeleteWorkers <= DeleteCluster <= DeleteSelf).

    Why is this bad?
        KubeRay refuses the RayJob: the deletion would be ambiguous, impossible (a selected
        cluster is not the job's to delete) or out of order.

    Example
        deletionStrategy:
          deletionRules:
          - {policy: DeleteCluster, condition: {jobStatus: SUCCEEDED, ttlSeconds: 10}}
          - {policy: DeleteWorkers, condition: {jobStatus: SUCCEEDED, ttlSeconds: 20}}

    Use instead
        deletionStrategy:
          deletionRules:
          - {policy: DeleteWorkers, condition: {jobStatus: SUCCEEDED, ttlSeconds: 10}}
          - {policy: DeleteCluster, condition: {jobStatus: SUCCEEDED, ttlSeconds: 20}}
    """

    code = "SR123"
    name = "rayjob-deletion"
    severity = Severity.ERROR
    fix = "Use either deletionRules or onSuccess+onFailure, consistent with the job's mode."
    kuberay = (
        "validation.go validateDeletionConfiguration: ttlSecondsAfterFinished needs shutdownAfterJobFinishes",
        "validation.go validateDeletionConfiguration: deletionStrategy needs the RayJobDeletionPolicy gate; rules exclude shutdownAfterJobFinishes and onSuccess/onFailure; one of them set",
        "validation.go validateLegacyDeletionPolicies: onSuccess and onFailure both set, with a policy; no DeleteCluster/DeleteWorkers with a clusterSelector; no DeleteWorkers with autoscaling; no DeleteNone with shutdownAfterJobFinishes",
        "validation.go validateDeletionRules/validateDeletionCondition/validateTTLConsistency: one status per condition, ttlSeconds >= 0, no repeated rule, selector and autoscaling limits, TTL order Workers <= Cluster <= Self",
    )

    def check(self, ctx):
        for obj, spec, at in _job_specs(ctx):
            for problem in self._problems(ctx, spec):
                yield self.finding(obj.doc, at, f"{obj.kind} {obj.name!r}: {problem}")

    @staticmethod
    def _problems(ctx, spec: dict):
        shutdown = spec.get("shutdownAfterJobFinishes") is True
        ttl = _int(spec.get("ttlSecondsAfterFinished"))
        if not shutdown and ttl is not None and ttl > 0:
            yield "ttlSecondsAfterFinished needs shutdownAfterJobFinishes: true"
            return
        strategy = spec.get("deletionStrategy")
        if strategy is None:
            return
        if not ctx.docs.gates.get(DELETION_GATE, False):
            yield f"deletionStrategy needs {gate_note(DELETION_GATE)}"
            return
        strategy = strategy if isinstance(strategy, dict) else {}
        legacy = strategy.get("onSuccess") is not None or strategy.get("onFailure") is not None
        rules = strategy.get("deletionRules")
        rules = rules if isinstance(rules, list) else []
        if rules and shutdown:
            yield "deletionStrategy.deletionRules and shutdownAfterJobFinishes exclude each other"
            return
        if rules and legacy:
            yield "deletionStrategy.deletionRules and onSuccess/onFailure exclude each other"
            return
        selector = spec.get("clusterSelector")
        selector = bool(isinstance(selector, dict) and selector)
        cluster = spec.get("rayClusterSpec")
        autoscaling = isinstance(cluster, dict) and autoscaling_enabled(cluster)
        if legacy:
            yield from _legacy(strategy, selector, autoscaling, shutdown)
        elif rules:
            yield from _rules(rules, selector, autoscaling)
        else:
            yield "deletionStrategy needs onSuccess and onFailure, or deletionRules"


def _legacy(strategy: dict, selector: bool, autoscaling: bool, shutdown: bool):
    success, failure = strategy.get("onSuccess"), strategy.get("onFailure")
    if not (isinstance(success, dict) and isinstance(failure, dict)):
        yield "deletionStrategy needs both onSuccess and onFailure"
        return
    policies = {"onSuccess": success.get("policy"), "onFailure": failure.get("policy")}
    for where, policy in policies.items():
        if policy is None:
            yield f"deletionStrategy.{where}.policy must be set"
            return
    if selector:
        for where, policy in policies.items():
            if policy in ("DeleteCluster", "DeleteWorkers"):
                yield f"deletionStrategy.{where} {policy} with a clusterSelector"
                return
    if autoscaling and "DeleteWorkers" in policies.values():
        yield "deletionStrategy DeleteWorkers does not work with autoscaling"
        return
    if shutdown and "DeleteNone" in policies.values():
        yield "shutdownAfterJobFinishes with a DeleteNone deletion policy"


def _rules(rules: list, selector: bool, autoscaling: bool):
    seen: dict[tuple[str, str], dict[str, int]] = {}
    for i, rule in enumerate(rules):
        rule = rule if isinstance(rule, dict) else {}
        condition = rule.get("condition")
        condition = condition if isinstance(condition, dict) else {}
        policy = rule.get("policy")
        job, deployment = condition.get("jobStatus"), condition.get("jobDeploymentStatus")
        if (job is None) == (deployment is None):
            yield f"deletionRules[{i}]: set exactly one of jobStatus and jobDeploymentStatus"
            continue
        ttl = _int(condition.get("ttlSeconds")) or 0
        if ttl < 0:
            yield f"deletionRules[{i}]: ttlSeconds must not be negative"
            continue
        if selector and policy in ("DeleteCluster", "DeleteWorkers"):
            yield f"deletionRules[{i}]: {policy} with a clusterSelector"
            continue
        if autoscaling and policy == "DeleteWorkers":
            yield f"deletionRules[{i}]: DeleteWorkers does not work with autoscaling"
            continue
        key = ("jobStatus", job) if job is not None else ("jobDeploymentStatus", deployment)
        ttls = seen.setdefault(key, {})
        if policy in ttls:
            yield f"deletionRules[{i}]: a second {policy} rule for {key[0]} {key[1]}"
            continue
        ttls[str(policy)] = ttl
    for (kind, status), ttls in seen.items():
        previous = None
        for policy in DELETION_ORDER:
            if policy not in ttls:
                continue
            if previous is not None and ttls[policy] < ttls[previous]:
                yield (
                    f"for {kind} {status}: {policy} TTL ({ttls[policy]}) must be >= "
                    f"{previous} TTL ({ttls[previous]})"
                )
            previous = policy


@register
class RayServiceSpec(Rule):
    """A RayService spec KubeRay refuses (its own fields; its cluster gets the other rules).

    What it does
        Errors, as KubeRay 1.7 does, when the cluster's `headGroupSpec.headService` has a
        `metadata.name`; when `upgradeStrategy.type` is not `NewClusterWithIncrementalUpgrade`,
        `NewCluster` or `None`; when `rayClusterDeletionDelaySeconds` is negative; and, for an
        incremental upgrade (with the RayServiceIncrementalUpgrade feature gate on), when the
        cluster has no in-tree autoscaler or `clusterUpgradeOptions` is missing or out of range
        (`maxSurgePercent` and `stepSizePercent` in 0..100 with step <= surge,
        `intervalSeconds` > 0, a `gatewayClassName`).

    Why is this bad?
        KubeRay refuses the RayService: it names the head Service itself (one per cluster it
        creates), and an incremental upgrade moves traffic step by step through a Gateway while
        the autoscaler resizes the clusters.

    Example
        upgradeStrategy: {type: NewClusterWithIncrementalUpgrade}

    Use instead
        upgradeStrategy:
          type: NewClusterWithIncrementalUpgrade
          clusterUpgradeOptions: {stepSizePercent: 10, intervalSeconds: 30, gatewayClassName: gke-l7-rilb}
    """

    code = "SR124"
    name = "rayservice-spec"
    severity = Severity.ERROR
    fix = "Fix the RayService field the message names."
    kuberay = (
        "validation.go ValidateRayServiceSpec: no headService metadata.name",
        "validation.go ValidateRayServiceSpec: upgradeStrategy.type NewClusterWithIncrementalUpgrade, NewCluster or None",
        "validation.go ValidateRayServiceSpec: rayClusterDeletionDelaySeconds not negative",
        "validation.go ValidateClusterUpgradeOptions (RayServiceIncrementalUpgrade gate): autoscaler, clusterUpgradeOptions, percents, intervalSeconds, gatewayClassName",
    )

    def check(self, ctx):
        for obj in _objects(ctx, "RayService"):
            for problem in self._problems(ctx, obj.spec):
                yield self.finding(obj.doc, ("spec",), f"RayService {obj.name!r}: {problem}")

    @staticmethod
    def _problems(ctx, spec: dict):
        cluster = spec.get("rayClusterConfig")
        cluster = cluster if isinstance(cluster, dict) else {}
        head = cluster.get("headGroupSpec")
        service = head.get("headService") if isinstance(head, dict) else None
        meta = service.get("metadata") if isinstance(service, dict) else None
        if isinstance(meta, dict) and meta.get("name"):
            yield "rayClusterConfig.headGroupSpec.headService.metadata.name must not be set"
        strategy = spec.get("upgradeStrategy")
        strategy = strategy if isinstance(strategy, dict) else {}
        kind = strategy.get("type")
        if kind is not None and kind not in (
            "NewClusterWithIncrementalUpgrade",
            "NewCluster",
            "None",
        ):
            yield f"upgradeStrategy.type {kind!r} is not NewClusterWithIncrementalUpgrade, NewCluster or None"
        delay = _int(spec.get("rayClusterDeletionDelaySeconds"))
        if delay is not None and delay < 0:
            yield f"rayClusterDeletionDelaySeconds {delay} is negative"
        if kind == "NewClusterWithIncrementalUpgrade" and ctx.docs.gates.get(INCREMENTAL_GATE):
            yield from _incremental(cluster, strategy.get("clusterUpgradeOptions"))


def _incremental(cluster: dict, options: object):
    if not autoscaling_enabled(cluster):
        yield "NewClusterWithIncrementalUpgrade needs the in-tree autoscaler"
        return
    if not isinstance(options, dict):
        yield "NewClusterWithIncrementalUpgrade needs clusterUpgradeOptions"
        return
    surge = _int(options.get("maxSurgePercent"))
    surge = 100 if surge is None else surge  # the CRD's default
    step = _int(options.get("stepSizePercent"))
    interval = _int(options.get("intervalSeconds"))
    if not 0 <= surge <= 100:
        yield "clusterUpgradeOptions.maxSurgePercent must be in 0..100"
    elif step is None or not 0 <= step <= 100:
        yield "clusterUpgradeOptions.stepSizePercent must be set, in 0..100"
    elif step > surge:
        yield "clusterUpgradeOptions.stepSizePercent must be <= maxSurgePercent"
    elif interval is None or interval <= 0:
        yield "clusterUpgradeOptions.intervalSeconds must be > 0"
    elif not options.get("gatewayClassName"):
        yield "clusterUpgradeOptions.gatewayClassName is required"


INITIALIZING_TIMEOUT = "ray.io/initializing-timeout"
_GO_DURATION = re.compile(r"[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+\Z")
INT64_MAX = 2**63 - 1


def go_atoi(text: str) -> int | None:
    """Go's strconv.Atoi on a 64-bit platform: ASCII digits, an optional sign, int64."""
    if not re.fullmatch(r"[-+]?[0-9]+", text):
        return None
    value = int(text)
    return value if -INT64_MAX - 1 <= value <= INT64_MAX else None


GO_MAX_DURATION_SECONDS = (2**63 - 1) / 1e9  # time.Duration is int64 nanoseconds (~292 years)


def go_duration_seconds(text: str) -> float | None:
    """Seconds of a Go duration string (`time.ParseDuration`: "1h30m", "90s", "0"), or None."""
    if text in ("0", "+0", "-0"):
        return 0.0
    if not _GO_DURATION.match(text):
        return None
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    sign = -1 if text.startswith("-") else 1
    total = sum(
        float(number) * units[unit]
        for number, unit in re.findall(
            r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)", text
        )
    )
    if total > GO_MAX_DURATION_SECONDS:
        return None  # Go's ParseDuration: "invalid duration" past int64 nanoseconds
    return sign * total


@register
class RayServiceInitializingTimeout(Rule):
    """A RayService `ray.io/initializing-timeout` annotation KubeRay cannot read.

    What it does
        Errors when the annotation is set and is neither a positive Go duration (`5m`, `1h`)
        nor a positive whole number of seconds.

    Why is this bad?
        KubeRay refuses the RayService's metadata: it would not know when to give up on a
        cluster that never becomes ready.

    Example
        metadata: {annotations: {ray.io/initializing-timeout: "ten minutes"}}

    Use instead
        metadata: {annotations: {ray.io/initializing-timeout: "10m"}}
    """

    code = "SR125"
    name = "rayservice-initializing-timeout"
    severity = Severity.ERROR
    fix = "Use a positive Go duration such as 10m, or a positive number of seconds."
    kuberay = (
        "validation.go ValidateRayServiceMetadata/validateInitializingTimeout: ray.io/initializing-timeout a positive duration or seconds",
    )

    def check(self, ctx):
        for obj in _objects(ctx, "RayService"):
            notes = obj.metadata.get("annotations")
            value = notes.get(INITIALIZING_TIMEOUT) if isinstance(notes, dict) else None
            if value in (None, ""):
                continue
            text = str(value)
            seconds = go_duration_seconds(text)
            if seconds is None and go_atoi(text) is not None:
                seconds = float(go_atoi(text))
            if seconds is None or seconds <= 0:
                yield self.finding(
                    obj.doc,
                    ("metadata", "annotations", INITIALIZING_TIMEOUT),
                    f"RayService {obj.name!r}: {INITIALIZING_TIMEOUT} {text!r} is not a "
                    "positive duration (5m, 1h) or number of seconds",
                )


CRON_GATE = "RayCronJob"
_CRON_DESCRIPTORS = {
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
}
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_WEEKDAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# robfig/cron v3 (KubeRay's cron.ParseStandard): each field's bounds and names
_CRON_BOUNDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 6, _WEEKDAYS),
)


def _cron_number(text: str, names: dict[str, int]) -> int | None:
    if text.lower() in names:
        return names[text.lower()]
    return go_atoi(text)


def _cron_range(expr: str, low: int, high: int, names: dict[str, int]) -> str | None:
    """Why one comma-separated part of a cron field is refused, as robfig/cron v3 reads it:
    `*` or `?`, `N`, `N-M`, each with an optional `/step` (`N/step` runs to the maximum)."""
    range_and_step = expr.split("/")
    if len(range_and_step) > 2:
        return f"too many slashes in {expr!r}"
    bounds = range_and_step[0].split("-")
    if bounds[0] in ("*", "?"):
        start, end = low, high
    else:
        if len(bounds) > 2:
            return f"too many hyphens in {expr!r}"
        start = _cron_number(bounds[0], names)
        end = start if len(bounds) == 1 else _cron_number(bounds[1], names)
        if start is None or end is None:
            return f"not a number in {expr!r}"
        if start < 0 or end < 0:
            return f"a negative number in {expr!r}"
    if len(range_and_step) == 2:
        step = _cron_number(range_and_step[1], {})
        if step is None or step < 0:
            return f"not a step in {expr!r}"
        if len(bounds) == 1:
            end = high
        if step == 0:
            return f"a step of 0 in {expr!r}"
    if start < low:
        return f"{expr!r} starts below {low}"
    if end > high:
        return f"{expr!r} ends above {high}"
    if start > end:
        return f"{expr!r} starts after it ends"
    return None


def cron_problem(schedule: object) -> str | None:
    """Why `schedule` is not a standard cron schedule (5 fields in robfig/cron v3's ranges,
    or a descriptor such as `@daily` or `@every 1h`), or None."""
    if not isinstance(schedule, str) or not schedule.strip():
        return "schedule is empty"
    text = schedule  # as KubeRay passes it: " @daily" is one field, "@daily " no descriptor
    if "TZ" in text:
        return "schedule cannot use TZ or CRON_TZ; use timeZone"
    if text.startswith("@"):
        if text in _CRON_DESCRIPTORS:
            return None
        if text.startswith("@every ") and go_duration_seconds(text[7:]) is not None:
            return None  # robfig's Every() runs anything under a second every second
        return f"schedule {text!r} is not a cron descriptor"
    fields = text.split()
    if len(fields) != 5:
        return f"schedule {text!r} is not 5 cron fields (minute hour day month weekday)"
    for field, (what, low, high, names) in zip(fields, _CRON_BOUNDS, strict=True):
        for expr in (part for part in field.split(",") if part):
            problem = _cron_range(expr, low, high, names)
            if problem:
                return f"schedule {text!r}: {what} ({low}-{high}): {problem}"
    return None


@register
class RayCronJobSpec(Rule):
    """A RayCronJob KubeRay refuses or never runs.

    What it does
        Errors when the RayCronJob feature gate is off (an Alpha gate, off by default in 1.7),
        when `schedule` is not a standard cron schedule as robfig/cron v3 (KubeRay's parser)
        reads it: five fields within their ranges (minute 0-59, hour 0-23, day 1-31, month
        1-12, weekday 0-6: 7 is refused), or a descriptor such as `@daily` or `@every 1h`; when
        it names a time zone (`TZ=`, `CRON_TZ=`); and when `timeZone` is empty or not a time zone name. Its `jobTemplate`
        gets the RayJob rules (SR122, SR123), its cluster every other SR1xx rule.

    Why is this bad?
        KubeRay refuses it, or, with the gate off, no controller ever creates its RayJobs.

    Example
        spec: {schedule: "CRON_TZ=UTC 0 * * * *", jobTemplate: {...}}

    Use instead
        spec: {schedule: "0 * * * *", timeZone: UTC, jobTemplate: {...}}
    """

    code = "SR126"
    name = "raycronjob-spec"
    severity = Severity.ERROR
    fix = "Turn the RayCronJob gate on; use a 5-field schedule and timeZone for the zone."
    kuberay = (
        "pkg/features: RayCronJob is an Alpha gate, off by default",
        "validation.go ValidateRayCronJobSpec: schedule without TZ, a standard cron schedule",
        "validation.go ValidateRayCronJobSpec: timeZone not empty, a known zone",
        "validation.go ValidateRayCronJobSpec: name at most 36 characters (SR101), jobTemplate as a RayJob spec (SR122, SR123)",
    )

    def check(self, ctx):
        for obj in _objects(ctx, "RayCronJob"):
            who = f"RayCronJob {obj.name!r}"
            if not ctx.docs.gates.get(CRON_GATE, False):
                yield self.finding(obj.doc, ("kind",), f"{who}: needs {gate_note(CRON_GATE)}")
            problem = cron_problem(obj.spec.get("schedule"))
            if problem:
                yield self.finding(obj.doc, ("spec", "schedule"), f"{who}: {problem}")
            if "timeZone" in obj.spec:
                zone = obj.spec.get("timeZone")
                if not isinstance(zone, str) or not zone:
                    yield self.finding(obj.doc, ("spec", "timeZone"), f"{who}: timeZone is empty")
                elif not _known_zone(zone):
                    yield self.finding(
                        obj.doc,
                        ("spec", "timeZone"),
                        f"{who}: timeZone {zone!r} is not a time zone",
                    )


def _known_zone(name: str) -> bool:
    """Whether `name` is a time zone; True when this machine has no zone database to ask."""
    import zoneinfo

    if not zoneinfo.available_timezones():
        return True
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True
