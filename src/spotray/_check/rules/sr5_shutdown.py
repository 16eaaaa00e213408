"""SR5xx: Spot shutdown hygiene: the Pods' shutdown must fit GKE's Spot window."""

from __future__ import annotations

from ..._plan import GKE_SPOT_POD_WINDOW
from ..._versions import version_tuple
from .._context import (
    autoscaler_v2,
    autoscaling_enabled,
    env_of,
    gcs_ft_enabled,
    groups,
    pod_spec,
    ray_container,
    ray_containers,
)
from .._finding import Severity
from .._registry import Rule, register
from .._startcmd import sigterm_problem, user_start_script

SAVE_ENV = "SPOTRAY_CHECKPOINT_SAVE_SECONDS"
DRAIN_ENV = "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"
DRAIN_DEFAULT_SECONDS = 30  # Ray 2.60, ray/_private/ray_constants.py
DRAIN_MIN_RAY = (2, 60)  # verified present in Ray 2.60; earlier releases not verified
K8S_DEFAULT_GRACE = 30


@register
class PreStopRayStop(Rule):
    """A `preStop` hook that runs `ray stop`.

    What it does
        Finds `lifecycle.preStop.exec.command` containing `ray stop` in any Ray container.

    Why is this bad?
        KubeRay removed this hook from its samples (kuberay#2606): it is not needed, since Ray
        handles SIGTERM itself, and if the hook cannot run (a sidecar already gone) Pod deletion
        hangs until the grace period ends. On Spot, those seconds are the whole shutdown window.

    Example
        lifecycle: {preStop: {exec: {command: ["/bin/sh", "-c", "ray stop"]}}}

    Use instead
        No preStop hook; set `terminationGracePeriodSeconds` and Ray's drain timeout
        (`RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S`) to fit the Spot window.
    """

    code = "SR501"
    name = "prestop-ray-stop"
    severity = Severity.WARNING
    fix = "Remove the preStop hook; rely on Ray's SIGTERM drain with a timeout inside the window."

    def check(self, ctx):
        for cluster, name, group, path in groups(ctx):
            containers = pod_spec(group).get("containers")
            for i, container in enumerate(containers if isinstance(containers, list) else []):
                if not isinstance(container, dict):
                    continue
                hook = container.get("lifecycle", {})
                hook = hook.get("preStop", {}) if isinstance(hook, dict) else {}
                command = hook.get("exec", {}).get("command") if isinstance(hook, dict) else None
                if isinstance(command, list) and "ray stop" in " ".join(map(str, command)):
                    yield self.finding(
                        cluster.doc,
                        (*path, "template", "spec", "containers", i, "lifecycle", "preStop"),
                        f"{cluster.kind} {cluster.name!r} group {name!r}: preStop runs "
                        "`ray stop`, which KubeRay no longer recommends (it can hang Pod "
                        "deletion); Ray drains on SIGTERM",
                    )


def _window(ctx, cluster, group, path) -> int | None:
    """Seconds a Pod of this group gets on a Spot node, or None if it lands on no Spot pool."""
    if not ctx.pools:
        return None
    spot = [p for p in ctx.placement(cluster, group, path).pools if p.spot]
    if not spot:
        return None
    windows = []
    for pool in spot:
        if pool.kubelet_shutdown_grace:
            critical = pool.kubelet_critical_grace or 0
            windows.append(pool.kubelet_shutdown_grace - critical)
        else:
            windows.append(GKE_SPOT_POD_WINDOW)
    return min(windows)


@register
class GraceExceedsSpotWindow(Rule):
    """Pods whose termination grace period is longer than the Spot window they get.

    What it does
        For groups that can land on Spot pools, compares `terminationGracePeriodSeconds`
        (default 30) with the time GKE gives ordinary Pods on preemption: 15 s by default, or
        the pool's `kubelet_config.shutdown_grace_period_seconds` less its critical-Pods share.

    Why is this bad?
        The node is gone when the window ends: anything planned for the rest of the grace
        period never happens, and Ray's drain is cut off mid-way.

    Example
        terminationGracePeriodSeconds: 60 on a default GKE Spot pool.

    Use instead
        terminationGracePeriodSeconds equal to the window (15), or lengthen the window with
        kubelet_config (120 s on GKE >= 1.35).
    """

    code = "SR502"
    name = "grace-exceeds-spot-window"
    severity = Severity.WARNING
    fix = "Set terminationGracePeriodSeconds to the Spot window, or lengthen the window."

    def check(self, ctx):
        for cluster, name, group, path in groups(ctx, workers=True):
            window = _window(ctx, cluster, group, path)
            spec = pod_spec(group)
            if window is None or "terminationGracePeriodSeconds" not in spec:
                continue  # unset: SR503 covers Ray's drain, Kubernetes' default is harmless
            grace = spec.get("terminationGracePeriodSeconds")
            if isinstance(grace, int) and grace > window:
                yield self.finding(
                    cluster.doc,
                    (*path, "template", "spec", "terminationGracePeriodSeconds"),
                    f"{cluster.kind} {cluster.name!r} group {name!r}: "
                    f"terminationGracePeriodSeconds {grace} exceeds the {window} s its Pods get "
                    "when a Spot node is preempted",
                )


@register
class DrainExceedsWindow(Rule):
    """Ray's SIGTERM drain cannot finish inside the Spot window.

    What it does
        For groups that can land on Spot pools and run a Ray that drains on SIGTERM (2.60+),
        compares `RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S` (default 30 s) with the window the Pod
        gets (and with its `terminationGracePeriodSeconds`).

    Why is this bad?
        Ray keeps waiting for running tasks after the node is already gone, so nothing gets to
        shut down cleanly; the preemption looks like a crash.

    Example
        No drain timeout set (30 s) on a default Spot pool (15 s).

    Use instead
        env RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S a few seconds below the window, e.g. "10".
    """

    code = "SR503"
    name = "drain-exceeds-window"
    severity = Severity.WARNING
    fix = f"Set {DRAIN_ENV} a few seconds below the Pods' shutdown window."

    def check(self, ctx):
        for cluster, name, group, path in groups(ctx, workers=True):
            version = version_tuple(cluster.spec.get("rayVersion"))
            if version is None or version[:2] < DRAIN_MIN_RAY:
                continue
            window = _window(ctx, cluster, group, path)
            found = ray_container(group)
            if window is None or found is None:
                continue
            index, container = found
            value = env_of(container).get(DRAIN_ENV)
            try:
                drain = float(value) if value is not None else DRAIN_DEFAULT_SECONDS
            except ValueError:
                continue
            grace = pod_spec(group).get("terminationGracePeriodSeconds", K8S_DEFAULT_GRACE)
            limit = min(window, grace) if isinstance(grace, int) else window
            if drain >= limit:
                yield self.finding(
                    cluster.doc,
                    (*path, "template", "spec", "containers", index),
                    f"{cluster.kind} {cluster.name!r} group {name!r}: Ray drains for {drain:g} s "
                    f"({DRAIN_ENV}{'' if value is not None else ' unset'}) but its Pods get "
                    f"{limit} s on preemption",
                )


@register
class CheckpointSaveExceedsDrain(Rule):
    """A declared checkpoint save time that Ray's drain does not leave room for.

    What it does
        For worker groups whose Ray container declares `SPOTRAY_CHECKPOINT_SAVE_SECONDS` (how
        long the job's resumable tasks need to save after a preemption notice), checks the rest
        of the shutdown chain: the save must fit in Ray's drain
        (`RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S`, default 30 s), which must end before the
        Pod's `terminationGracePeriodSeconds` (SR503 checks that, and the window, SR502).

    Why is this bad?
        A task that learns of the preemption when its node starts draining has until the drain
        deadline to save: a save that needs longer is cut off, and the work since the last
        complete save is lost.

    Example
        env: [{name: RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S, value: "10"},
              {name: SPOTRAY_CHECKPOINT_SAVE_SECONDS, value: "20"}]

    Use instead
        A 120 s window (spot_shutdown.node_grace_period_seconds: 120) and a drain of 100 s.
    """

    code = "SR507"
    name = "checkpoint-save-exceeds-drain"
    severity = Severity.WARNING
    fix = "Lengthen the Spot window and the drain, or make the checkpoint smaller."

    def check(self, ctx):
        for cluster, name, _group, path, index, container in ray_containers(ctx, workers=True):
            env = env_of(container)
            try:
                save = float(env[SAVE_ENV]) if env.get(SAVE_ENV) is not None else None
                raw = env.get(DRAIN_ENV)
                drain = float(raw) if raw is not None else DRAIN_DEFAULT_SECONDS
            except (TypeError, ValueError):
                continue
            if save is not None and save > drain:
                yield self.finding(
                    cluster.doc,
                    (*path, "template", "spec", "containers", index),
                    f"{cluster.kind} {cluster.name!r} group {name!r}: checkpoints need {save:g} s "
                    f"({SAVE_ENV}) but Ray drains for {drain:g} s ({DRAIN_ENV}"
                    f"{'' if raw is not None else ' unset'})",
                )


@register
class SigtermMissesRayStart(Rule):
    """A worker command that keeps the kubelet's SIGTERM from reaching `ray start`.

    What it does
        Reads the worker's Ray container command as KubeRay runs it. When the user wrote it
        (it contains `ray start`, or the cluster sets `ray.io/overwrite-container-cmd`),
        checks that `ray start --block` is the process the kubelet signals: the command
        itself, or the last command of a bash script without traps, or started with `exec`.

    Why is this bad?
        On preemption GKE's kubelet sends SIGTERM to the container's first process. Ray 2.60's
        `ray start --block` answers it by draining the node with reason PREEMPTION, which lets
        Ray record a preemption and not charge the tasks' retries. A shell in front (`sh -c`,
        `ray start ...; sleep infinity`, a trap) swallows the signal: Ray never drains, and the
        Pod is killed at the end of its grace period like a crash.

    Example
        args: ["ray start --address=$RAY_ADDRESS && sleep infinity"]

    Use instead
        annotations: {ray.io/overwrite-container-cmd: "true"} and
        args: ['ulimit -n 65536; eval "exec $KUBERAY_GEN_RAY_START_CMD"'] (what spotray renders).
    """

    code = "SR508"
    name = "sigterm-misses-ray-start"
    severity = Severity.WARNING
    fix = 'Make `ray start --block` the last command, started with `exec` (`eval "exec $KUBERAY_GEN_RAY_START_CMD"`).'

    def check(self, ctx):
        for cluster, name, group, path, index, container in ray_containers(ctx, workers=True):
            # KubeRay reads the annotation on a RayCluster's own metadata and on Pod templates
            data = cluster.doc.data if isinstance(cluster.doc.data, dict) else {}
            metadata = data.get("metadata") if cluster.kind == "RayCluster" else None
            template = group.get("template")
            annotations = {
                **_annotations(metadata),
                **_annotations(template.get("metadata") if isinstance(template, dict) else None),
            }
            script = user_start_script(container, annotations)
            problem = sigterm_problem(script) if script is not None else None
            if problem:
                yield self.finding(
                    cluster.doc,
                    (*path, "template", "spec", "containers", index),
                    f"{cluster.kind} {cluster.name!r} group {name!r}: SIGTERM on preemption "
                    f"does not reach `ray start`, so Ray cannot drain: {problem}",
                )


def _annotations(metadata) -> dict:
    found = metadata.get("annotations") if isinstance(metadata, dict) else None
    return found if isinstance(found, dict) else {}


@register
class ImageVersionMismatch(Rule):
    """`rayVersion` and the Ray image's tag disagree.

    What it does
        Compares `spec.rayVersion` with the version at the start of every Ray container image's
        tag (e.g. `rayproject/ray:2.22.0-py311`).

    Why is this bad?
        KubeRay and Ray's autoscaler use `rayVersion` to decide which features and flags to use;
        a mismatch gives a cluster that behaves like neither version.

    Example
        rayVersion: 2.60.0 with image rayproject/ray:2.22.0-py311

    Use instead
        The same version in both places.
    """

    code = "SR505"
    name = "image-version-mismatch"
    severity = Severity.WARNING
    fix = "Use the same Ray version in rayVersion and the image tag."

    def check(self, ctx):
        for cluster in ctx.clusters:
            version = version_tuple(cluster.spec.get("rayVersion"))
            if version is None:
                continue
            for _, name, group, path in groups(ctx, cluster=cluster):
                found = ray_container(group)
                if found is None:
                    continue
                index, container = found
                image = str(container.get("image", ""))
                tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
                tagged = version_tuple(tag)
                if tagged and len(tagged) == 3 and tagged != version:
                    yield self.finding(
                        cluster.doc,
                        (*path, "template", "spec", "containers", index, "image"),
                        f"{cluster.kind} {cluster.name!r} group {name!r}: image {image} is Ray "
                        f"{'.'.join(map(str, tagged))} but rayVersion is "
                        f"{cluster.spec.get('rayVersion')}",
                    )


@register
class RestartPolicyUnset(Rule):
    """A worker template without `restartPolicy: Never` under autoscaler v2.

    What it does
        Notes worker groups of an autoscaler-v2 cluster whose Pod template leaves
        `restartPolicy` unset.

    Why is this bad?
        A preempted or failed Ray worker must come back as a new Pod that autoscaler v2 can
        account for, not as a container restarted in place (Kubernetes' default, `Always`).
        KubeRay sets `Never` for v2 clusters, so the manifest you read is not what runs; saying
        it explicitly keeps the two the same and survives a KubeRay change.

    Example
        template: {spec: {containers: [...]}}

    Use instead
        template: {spec: {restartPolicy: Never, containers: [...]}}
    """

    code = "SR504"
    name = "restart-policy-unset"
    severity = Severity.INFO
    fix = "Set restartPolicy: Never in the worker Pod templates."

    def check(self, ctx):
        for group in groups(ctx, workers=True):
            spec = group.cluster.spec
            if not (autoscaling_enabled(spec) and autoscaler_v2(spec)):
                continue
            if pod_spec(group.spec).get("restartPolicy") in (None, ""):
                yield self.finding(
                    group.cluster.doc,
                    group.at("template", "spec"),
                    f"{group.label}: restartPolicy unset under autoscaler v2 (KubeRay makes it "
                    "Never; say so)",
                )


@register
class HeadWithoutGcsFt(Rule):
    """A cluster with Spot workers whose head has no GCS fault tolerance.

    What it does
        Notes clusters with a worker group that can land on Spot pools and neither
        `gcsFaultToleranceOptions` nor the `ray.io/ft-enabled` annotation.

    Why is this bad?
        Spot makes node loss routine. Worker loss is survivable (Ray retries tasks and
        restarts actors), but if the head Pod is lost (its node upgraded or repaired, or a
        misplaced head preempted) the GCS and every job's state go with it. GCS fault tolerance
        keeps that state in Redis so workers reconnect to a new head.

    Example
        spec: {headGroupSpec: {...}, workerGroupSpecs: [...spot...]}

    Use instead
        spec: {gcsFaultToleranceOptions: {redisAddress: "redis:6379"}, ...}
    """

    code = "SR506"
    name = "head-without-gcs-ft"
    severity = Severity.INFO
    fix = "Set spec.gcsFaultToleranceOptions (Redis) so the cluster survives losing its head."

    def check(self, ctx):
        for cluster in ctx.clusters:
            if gcs_ft_enabled(cluster):
                continue
            spot = [
                g.name
                for g in groups(ctx, workers=True, cluster=cluster)
                if any(p.spot for p in ctx.placement(cluster, g.spec, g.path).pools)
            ]
            if spot:
                yield self.finding(
                    cluster.doc,
                    cluster.at("headGroupSpec"),
                    f"{cluster.kind} {cluster.name!r}: worker groups {', '.join(spot)} run on "
                    "Spot but the head has no GCS fault tolerance",
                )
