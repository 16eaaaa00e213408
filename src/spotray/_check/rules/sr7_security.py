"""SR7xx: security review of Ray Pods and GKE node pools (what `spotray render` does by default,
see docs/security.md), so that hand-written clusters get the same review.

Container settings follow Kubernetes: a container's `securityContext` field wins over the Pod's
for `runAsNonRoot`, `runAsUser` and `seccompProfile`; `allowPrivilegeEscalation` and
`capabilities` exist only per container. KubeRay copies the Ray container's securityContext to
the init containers it injects, and gives its autoscaler sidecar `autoscalerOptions.
securityContext` (nothing when that is unset).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..._tfeval import UNKNOWN
from ..._versions import TOKEN_AUTH_MIN_RAY, version_tuple
from .._context import (
    Group,
    autoscaling_enabled,
    groups,
    head_env,
    pod_spec,
    ray_container,
    terraform_pools,
)
from .._finding import Severity
from .._registry import Rule, register
from .._terraform import first_block

# Pod Security Standards, baseline: the capabilities a container may add
BASELINE_CAPABILITIES = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}
CLUSTER_LABEL = "ray.io/cluster"
ORIGIN_LABEL = "ray.io/originated-from-cr-name"  # a RayJob's or RayService's cluster
KUBERAY_POD_LABELS = (
    CLUSTER_LABEL,
    ORIGIN_LABEL,
    "ray.io/originated-from-crd",
    "ray.io/node-type",
    "ray.io/group",
    "ray.io/is-ray-node",
)


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


class _Container:
    """A container of a group, or the autoscaler sidecar KubeRay adds to the head."""

    def __init__(self, group: Group, name: str, raw: dict, context: dict, path: tuple) -> None:
        self.group, self.name, self.raw, self.context, self.path = group, name, raw, context, path

    @property
    def pod_context(self) -> dict:
        return _dict(pod_spec(self.group.spec).get("securityContext"))

    def setting(self, key: str) -> object:
        """The container's own setting, else the Pod's (for fields both have)."""
        if key in self.context:
            return self.context[key]
        return self.pod_context.get(key)

    @property
    def label(self) -> str:
        return f"{self.group.label} container {self.name!r}"


def _containers(ctx) -> Iterator[_Container]:
    for group in groups(ctx):
        pod = pod_spec(group.spec)
        for field in ("initContainers", "containers"):
            items = pod.get(field)
            for i, item in enumerate(items if isinstance(items, list) else []):
                if isinstance(item, dict):
                    yield _Container(
                        group,
                        str(item.get("name", f"{field}[{i}]")),
                        item,
                        _dict(item.get("securityContext")),
                        group.at("template", "spec", field, i),
                    )
        spec = group.cluster.spec
        if group.head and autoscaling_enabled(spec):
            options = _dict(spec.get("autoscalerOptions"))
            yield _Container(
                group,
                "autoscaler",
                {},
                _dict(options.get("securityContext")),
                group.cluster.at("autoscalerOptions"),
            )


def restricted_gaps(c: _Container) -> list[str]:
    """What keeps a container from the Pod Security Standards' restricted profile."""
    gaps = []
    if c.context.get("allowPrivilegeEscalation") is not False:
        gaps.append("allowPrivilegeEscalation is not false")
    capabilities = _dict(c.context.get("capabilities"))
    drop = capabilities.get("drop")
    if not (isinstance(drop, list) and "ALL" in drop):
        gaps.append("capabilities.drop has no ALL")
    added = capabilities.get("add")
    extra = (
        sorted({str(a) for a in added} - {"NET_BIND_SERVICE"}) if isinstance(added, list) else []
    )
    if extra:
        gaps.append(f"capabilities.add has {extra}")
    if c.setting("runAsUser") == 0:
        gaps.append("runAsUser is 0 (root)")
    elif c.setting("runAsNonRoot") is not True:
        gaps.append("runAsNonRoot is not true")
    profile = _dict(c.setting("seccompProfile")).get("type")
    if profile not in ("RuntimeDefault", "Localhost"):
        gaps.append(f"seccompProfile is {profile!r}" if profile else "no seccompProfile")
    return gaps


@register
class RestrictedSecurityContext(Rule):
    """A container that the Pod Security Standards' restricted profile rejects.

    What it does
        Warns about every container (init containers, and the autoscaler sidecar through
        `autoscalerOptions.securityContext`) that lacks one of: `allowPrivilegeEscalation:
        false`, `capabilities.drop: [ALL]`, `runAsNonRoot: true` (container or Pod), a
        `RuntimeDefault` or `Localhost` seccomp profile (container or Pod). Lists what is
        missing.

    Why is this bad?
        The Ray image gives its user passwordless sudo: a process that can escalate turns code
        execution in a Ray task into root in the container, and root in a container is one
        kernel bug from root on the node. Without a seccomp profile GKE runs the container
        `Unconfined`. Ray runs under all four settings (spotray renders them).

    Example
        containers: [{name: ray-worker, image: rayproject/ray:2.60.0}]

    Use instead
        securityContext: {runAsNonRoot: true, runAsUser: 1000,
                          seccompProfile: {type: RuntimeDefault}}
        containers:
        - name: ray-worker
          securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
    """

    code = "SR701"
    name = "restricted-security-context"
    severity = Severity.WARNING
    fix = (
        "Set allowPrivilegeEscalation: false and capabilities.drop: [ALL] on every container, "
        "runAsNonRoot: true and seccompProfile RuntimeDefault on the Pod."
    )

    def check(self, ctx):
        for c in _containers(ctx):
            gaps = restricted_gaps(c)
            if gaps:
                yield self.finding(c.group.cluster.doc, c.path, f"{c.label}: {'; '.join(gaps)}")


@register
class PodSecurityBaseline(Rule):
    """A Pod that the Pod Security Standards' baseline profile rejects.

    What it does
        Warns about Pod templates with host namespaces (`hostNetwork`, `hostPID`, `hostIPC`),
        `hostPath` volumes, `hostPort`s, privileged containers, or added capabilities outside
        the baseline set.

    Why is this bad?
        Each opens the node to the Pod: a task in such a Ray worker can read other Pods'
        traffic, processes or files. A namespace that enforces baseline (GKE Autopilot does)
        refuses the Pod, so the worker group never starts.

    Example
        template: {spec: {hostNetwork: true, containers: [{securityContext: {privileged: true}}]}}

    Use instead
        template: {spec: {containers: [{securityContext: {allowPrivilegeEscalation: false}}]}}
    """

    code = "SR702"
    name = "pod-security-baseline"
    severity = Severity.WARNING
    fix = "Drop host namespaces, hostPath volumes, hostPorts, privileged and extra capabilities."

    def check(self, ctx):
        for group in groups(ctx):
            pod = pod_spec(group.spec)
            doc, where = group.cluster.doc, group.at("template", "spec")
            for key in ("hostNetwork", "hostPID", "hostIPC"):
                if pod.get(key) is True:
                    yield self.finding(doc, (*where, key), f"{group.label}: {key}: true")
            volumes = pod.get("volumes")
            for i, volume in enumerate(volumes if isinstance(volumes, list) else []):
                if isinstance(volume, dict) and "hostPath" in volume:
                    yield self.finding(
                        doc,
                        (*where, "volumes", i),
                        f"{group.label}: volume {volume.get('name')!r} is a hostPath",
                    )
        for c in _containers(ctx):
            doc = c.group.cluster.doc
            if c.context.get("privileged") is True:
                yield self.finding(doc, c.path, f"{c.label}: privileged: true")
            added = _dict(c.context.get("capabilities")).get("add")
            extra = (
                sorted(str(a) for a in added if str(a) not in BASELINE_CAPABILITIES)
                if isinstance(added, list)
                else []
            )
            if extra:
                yield self.finding(doc, c.path, f"{c.label}: adds capabilities {extra}")
            ports = c.raw.get("ports")
            for port in ports if isinstance(ports, list) else []:
                if isinstance(port, dict) and port.get("hostPort"):
                    yield self.finding(doc, c.path, f"{c.label}: hostPort {port['hostPort']}")


@register
class TokenAuthOff(Rule):
    """A cluster without Ray token authentication, on a Ray version that has it.

    What it does
        Warns when `rayVersion` is 2.52 or later and neither `authOptions.mode: token` nor a
        `RAY_AUTH_MODE=token` env var on the head turns token authentication on; notes it
        (info) below 2.52, where upgrading is the way to get it.

    Why is this bad?
        Without it, anyone who reaches the head's ports can submit jobs that run arbitrary
        code as the Ray user (the class of hole behind CVE-2023-48022, "ShadowRay"); a
        NetworkPolicy narrows who can reach them, token auth makes reaching them not enough.

    Example
        spec: {rayVersion: "2.60.0", headGroupSpec: {...}}

    Use instead
        spec: {rayVersion: "2.60.0", authOptions: {mode: token}, headGroupSpec: {...}}
    """

    code = "SR703"
    name = "token-auth-off"
    severity = Severity.WARNING
    fix = "Set spec.authOptions.mode: token (Ray >= 2.52.0); KubeRay makes and hands out the token."

    def check(self, ctx):
        for cluster in ctx.clusters:
            auth = _dict(cluster.spec.get("authOptions"))
            manual = head_env(cluster.spec).get("RAY_AUTH_MODE") == "token"
            if auth.get("mode") == "token" or manual:
                continue
            version = version_tuple(cluster.spec.get("rayVersion"))
            if version is None:
                continue
            old = version < TOKEN_AUTH_MIN_RAY
            yield self.finding(
                cluster.doc,
                cluster.at("rayVersion"),
                f"{cluster.kind} {cluster.name!r}: Ray token authentication is off"
                + (" (Ray < 2.52 has none: upgrade to get it)" if old else ""),
                severity=Severity.INFO if old else None,
            )


def _selects(policy: dict, cluster) -> bool:
    """Whether a NetworkPolicy's podSelector can select Pods of `cluster` for ingress, by the
    labels KubeRay puts on them (selectors with matchExpressions get the benefit of the doubt).
    A RayJob's or RayService's cluster has a generated name: its Pods are known by
    `ray.io/originated-from-cr-name` instead."""
    meta = _dict(cluster.doc.data.get("metadata")) if isinstance(cluster.doc.data, dict) else {}
    ours, theirs = meta.get("namespace"), _dict(policy.get("metadata")).get("namespace")
    if ours and theirs and ours != theirs:  # one without: `kubectl apply -n` places it
        return False
    spec = _dict(policy.get("spec"))
    types = spec.get("policyTypes")
    if isinstance(types, list) and "Ingress" not in types:
        return False
    labels = _dict(_dict(spec.get("podSelector")).get("matchLabels"))
    if cluster.kind == "RayCluster" and labels.get(CLUSTER_LABEL, cluster.name) != cluster.name:
        return False
    if labels.get(ORIGIN_LABEL, cluster.name) != cluster.name:
        return False
    return all(k in KUBERAY_POD_LABELS or k.startswith("app.kubernetes.io/") for k in labels)


@register
class NoNetworkPolicy(Rule):
    """A cluster whose Pods no NetworkPolicy in the checked files covers.

    What it does
        Notes clusters without KubeRay's `spec.networkPolicy` and without a
        `networking.k8s.io/v1` NetworkPolicy (among the files checked) whose podSelector can
        select the cluster's Pods for ingress.

    Why is this bad?
        Kubernetes lets every Pod reach every other Pod: anything compromised in the cluster
        can reach the GCS (6379), the dashboard and job API (8265) and the Ray client port
        (10001). A policy that admits only the cluster's own Pods and its named clients
        closes that. Policies kept in other files are not seen: hence a note, not a warning.

    Example
        kind: RayCluster   # and nothing else

    Use instead
        kind: NetworkPolicy
        spec: {podSelector: {matchLabels: {ray.io/cluster: NAME}}, policyTypes: [Ingress],
               ingress: [{from: [{podSelector: {matchLabels: {ray.io/cluster: NAME}}}]}]}
    """

    code = "SR704"
    name = "no-network-policy"
    severity = Severity.INFO
    fix = "Add a NetworkPolicy for the cluster's Pods (spotray render makes one)."

    def check(self, ctx):
        policies = [d.data for d in ctx.docs.network_policies if isinstance(d.data, dict)]
        for cluster in ctx.clusters:
            if cluster.spec.get("networkPolicy") is not None:
                continue
            if any(_selects(p, cluster) for p in policies):
                continue
            yield self.finding(
                cluster.doc,
                cluster.prefix,
                f"{cluster.kind} {cluster.name!r}: no NetworkPolicy covers its Pods",
            )


@register
class ServiceAccountToken(Rule):
    """A Pod that runs as the namespace's `default` service account or mounts a token it does
    not need.

    What it does
        Notes Pod templates without `serviceAccountName` (the head of an autoscaling cluster
        excepted: KubeRay makes one for it), and worker templates that do not set
        `automountServiceAccountToken: false`.

    Why is this bad?
        The `default` account is shared with everything else in the namespace, so any role
        granted to it reaches the Ray Pods and back. Ray workers do not call the Kubernetes
        API: a mounted token only serves whoever runs code in the Pod.

    Example
        template: {spec: {containers: [...]}}

    Use instead
        template: {spec: {serviceAccountName: ray, automountServiceAccountToken: false}}
    """

    code = "SR705"
    name = "service-account-token"
    severity = Severity.INFO
    fix = "Give the Pods a dedicated serviceAccountName; set automountServiceAccountToken: false on workers."

    def check(self, ctx):
        # service accounts in the checked files that mount no token unless a Pod asks
        quiet = {
            _dict(d.data.get("metadata")).get("name")
            for d in ctx.docs.service_accounts
            if isinstance(d.data, dict) and d.data.get("automountServiceAccountToken") is False
        }
        for group in groups(ctx):
            pod = pod_spec(group.spec)
            doc, where = group.cluster.doc, group.at("template", "spec")
            kuberay_made = group.head and autoscaling_enabled(group.cluster.spec)
            account = pod.get("serviceAccountName")
            if not account and not kuberay_made:
                yield self.finding(
                    doc, where, f"{group.label}: runs as the namespace's default service account"
                )
            mounts = pod.get("automountServiceAccountToken")
            if mounts is None and account in quiet:
                mounts = False
            if not group.head and mounts is not False:
                yield self.finding(
                    doc, where, f"{group.label}: mounts a service account token it does not use"
                )


@register
class ImageNotPinned(Rule):
    """A Ray image referenced by tag only.

    What it does
        Notes Ray containers whose image has no `@sha256:` digest.

    Why is this bad?
        A tag can be moved: the image a Spot replacement Pulls tomorrow may not be the one
        tested today, and a compromised registry account can change what every new node
        runs. A digest pins the exact image.

    Example
        image: rayproject/ray:2.60.0-py311

    Use instead
        image: rayproject/ray:2.60.0-py311@sha256:...
    """

    code = "SR706"
    name = "image-not-pinned"
    severity = Severity.INFO
    fix = "Pin the image by digest (spotray: security.image_digest)."

    def check(self, ctx):
        for group in groups(ctx):
            found = ray_container(group.spec)
            if not found:
                continue
            index, container = found
            image = container.get("image")
            if isinstance(image, str) and "@sha256:" not in image:
                yield self.finding(
                    group.cluster.doc,
                    group.at("template", "spec", "containers", index, "image"),
                    f"{group.label}: image {image!r} is not pinned by digest",
                )


@register
class NodePoolSecureBoot(Rule):
    """A Terraform node pool without Secure Boot.

    What it does
        Warns about `google_container_node_pool` resources whose `node_config` has no
        `shielded_instance_config` with `enable_secure_boot = true`.

    Why is this bad?
        Secure Boot makes the node refuse unsigned boot components and kernel modules, so
        malware that gets root on a node cannot persist across a reboot. The provider's default
        is off (integrity monitoring is on). checkov's CKV_GCP_68 asks for it.

    Example
        node_config { machine_type = "n2-standard-8" }

    Use instead
        node_config {
          shielded_instance_config {
            enable_secure_boot          = true
            enable_integrity_monitoring = true
          }
        }
    """

    code = "SR707"
    name = "node-pool-secure-boot"
    severity = Severity.WARNING
    fix = "Add shielded_instance_config { enable_secure_boot = true } to node_config."

    def check(self, ctx):
        for pool in terraform_pools(ctx):
            config = first_block(pool.body.get("node_config"))
            if config.get("shielded_instance_config") is UNKNOWN:
                continue  # generated by a `dynamic` block spotray cannot expand
            shielded = first_block(config.get("shielded_instance_config"))
            boot = shielded.get("enable_secure_boot")
            if boot is UNKNOWN:
                continue  # the caller decides (a module input)
            if boot is not True:
                yield self.finding(
                    (pool.file, pool.lines.get("node_config", pool.line)),
                    (),
                    f"node pool {pool.name!r}: Secure Boot is off",
                )


@register
class NodePoolDefaultServiceAccount(Rule):
    """A Terraform node pool that runs as the Compute Engine default service account.

    What it does
        Warns about `google_container_node_pool` resources whose `node_config` names no
        `service_account` (or names `default`).

    Why is this bad?
        GKE then uses the Compute Engine default account, which has the project Editor role
        in most projects: every node, and so whoever escapes a Pod, can change the project. A
        dedicated account with `roles/container.defaultNodeServiceAccount` is what GKE asks
        for (CIS GKE 5.2.1).

    Example
        node_config { machine_type = "n2-standard-8" }

    Use instead
        node_config { service_account = google_service_account.ray_nodes.email }
    """

    code = "SR708"
    name = "node-pool-default-service-account"
    severity = Severity.WARNING
    fix = "Set node_config.service_account to a dedicated account (spotray renders one)."

    def check(self, ctx):
        for pool in terraform_pools(ctx):
            account = first_block(pool.body.get("node_config")).get("service_account")
            if account in (None, "", "default"):
                yield self.finding(
                    (pool.file, pool.lines.get("node_config", pool.line)),
                    (),
                    f"node pool {pool.name!r}: runs as the Compute Engine default service account",
                )
