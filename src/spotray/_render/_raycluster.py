"""Plan → `raycluster.yaml`: a KubeRay `ray.io/v1` RayCluster pinned to the plan's pools.

Documents are built as manifest-shaped literals with the real field names; `None` values are
dropped, so an unset option leaves no empty key behind.
"""

from __future__ import annotations

from typing import Any

from .._plan import NodePool, Plan, RayGroup
from ._yamlout import dump

DRAIN_TIMEOUT_ENV = (
    "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"  # Ray 2.60: ray/_private/ray_constants.py
)
SAVE_ENV = "SPOTRAY_CHECKPOINT_SAVE_SECONDS"  # declared by the spec; checked by SR507
NODEPOOL_LABEL = "cloud.google.com/gke-nodepool"
SPOT_LABEL = "cloud.google.com/gke-spot"
# KubeRay keeps a container command as written when the RayCluster carries this annotation, and
# hands it the `ray start` command it generated in KUBERAY_GEN_RAY_START_CMD (KubeRay >= 1.1,
# its sample ray-cluster.overwrite-command.yaml). `exec` makes `ray start --block` the process
# the kubelet's SIGTERM reaches, whatever the shell; `eval` reads the generated command's
# quoting as KubeRay's own `bash -c` would; `ulimit` is what KubeRay's default command runs first.
OVERWRITE_CMD_ANNOTATION = "ray.io/overwrite-container-cmd"
RAY_COMMAND = ["/bin/bash", "-c", "--"]
RAY_ARGS = ['ulimit -n 65536; eval "exec $KUBERAY_GEN_RAY_START_CMD"']


def predrain_hook(seconds: int) -> dict:
    """A worker's preStop hook: before the kubelet's SIGTERM, ask the GCS to drain this node
    with reason PREEMPTION and a deadline `seconds` away (Plan.shutdown.predrain_seconds has
    why). `ray drain-node` is Ray's own CLI (its default node: the one it runs on); `timeout`
    keeps an unreachable GCS from holding up the Pod's deletion, and `|| true` lets SIGTERM
    follow whatever happened."""
    script = (
        f"timeout 15 ray drain-node --reason DRAIN_NODE_REASON_PREEMPTION "
        f"--reason-message 'Pod terminating (spotray preStop)' "
        f"--deadline-remaining-seconds {seconds} || true"
    )
    return {"preStop": {"exec": {"command": ["/bin/sh", "-c", script]}}}


def drop_none(value: Any) -> Any:
    """Recursively drop `None` values from dicts (lists keep their items)."""
    if isinstance(value, dict):
        return {k: drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_none(v) for v in value]
    return value


def node_affinity(pool: NodePool) -> dict:
    """Required node affinity: this pool only, and Spot only if the pool is Spot (else never)."""
    spot = (
        {"key": SPOT_LABEL, "operator": "In", "values": ["true"]}
        if pool.spot
        else {"key": SPOT_LABEL, "operator": "DoesNotExist"}
    )
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": NODEPOOL_LABEL, "operator": "In", "values": [pool.name]},
                            spot,
                        ]
                    }
                ]
            }
        }
    }


def tolerations(group: RayGroup) -> list[dict] | None:
    """Tolerate exactly the pool's taints, plus the group's extra tolerations."""
    out = [
        {"key": t.key, "operator": "Equal", "value": t.value, "effect": t.effect}
        for t in group.pool.taints
    ]
    out += [dict(t) for t in group.tolerations]
    return out or None


def _env(group: RayGroup, plan: Plan) -> list[dict] | None:
    env = [{"name": k, "value": v} for k, v in group.env.items()]
    if not group.is_head and not any(e["name"] == DRAIN_TIMEOUT_ENV for e in env):
        env.append({"name": DRAIN_TIMEOUT_ENV, "value": str(plan.shutdown.drain_timeout_seconds)})
    save = plan.shutdown.checkpoint_save_seconds
    if not group.is_head and save is not None and not any(e["name"] == SAVE_ENV for e in env):
        env.append({"name": SAVE_ENV, "value": str(save)})
    return env or None


def pod_template(group: RayGroup, plan: Plan) -> dict:
    """The Pod template of a group: placement, shutdown window, one Ray container."""
    container = {
        "name": "ray-head" if group.is_head else "ray-worker",
        "image": plan.image,
        "command": list(RAY_COMMAND),
        "args": list(RAY_ARGS),
        "env": _env(group, plan),
        "resources": group.pod.container_resources(),
        "lifecycle": predrain_hook(plan.shutdown.predrain_seconds)
        if not group.is_head and plan.shutdown.predrain_seconds
        else None,
        "securityContext": plan.security.container_security_context,
    }
    v2 = plan.autoscaling and plan.autoscaler_version == "v2"
    spec = {
        "affinity": node_affinity(group.pool),
        "tolerations": tolerations(group),
        "serviceAccountName": group.service_account_name,
        "automountServiceAccountToken": group.automount_token,
        "securityContext": plan.security.pod_security_context,
        "terminationGracePeriodSeconds": None
        if group.is_head
        else plan.shutdown.grace_period_seconds,
        "restartPolicy": "Never" if v2 and not group.is_head else None,
        "containers": [container],
    }
    template: dict = {"spec": spec}
    if group.labels:
        template = {"metadata": {"labels": dict(group.labels)}, **template}
    return template


def _worker_spec(group: RayGroup, plan: Plan) -> dict:
    return {
        "groupName": group.name,
        "replicas": group.replicas,
        "minReplicas": group.min_replicas,
        "maxReplicas": group.max_replicas,
        "numOfHosts": group.num_of_hosts if group.num_of_hosts != 1 else None,
        "idleTimeoutSeconds": group.idle_timeout_seconds,
        "priority": group.priority,
        "labels": group.ray_labels or None,
        "rayStartParams": dict(group.ray_start_params),
        "template": pod_template(group, plan),
    }


def raycluster_document(plan: Plan) -> dict:
    """The RayCluster manifest as a dict."""
    autoscaler = None
    if plan.autoscaling:
        autoscaler = {
            "version": plan.autoscaler_version,
            "idleTimeoutSeconds": plan.autoscaler_idle_timeout_seconds,
            "upscalingMode": plan.upscaling_mode,
            "securityContext": plan.security.container_security_context,
            # on-demand fallback in minutes, not Ray's default hour (docs/fallback.md)
            "env": [{"name": k, "value": v} for k, v in plan.fallback.env().items()]
            if plan.fallback
            else None,
        }
    doc = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {
            "name": plan.name,
            "namespace": plan.namespace,
            "annotations": {OVERWRITE_CMD_ANNOTATION: "true"},
        },
        "spec": {
            "rayVersion": plan.ray_version,
            "authOptions": {"mode": "token"} if plan.security.token_auth else None,
            "enableInTreeAutoscaling": plan.autoscaling,
            "autoscalerOptions": autoscaler,
            "headGroupSpec": {
                "rayStartParams": dict(plan.head.ray_start_params),
                "template": pod_template(plan.head, plan),
            },
            "workerGroupSpecs": [_worker_spec(g, plan) for g in plan.workers],
            "networkPolicy": kuberay_network_policy(plan)
            if plan.security.network_policy == "kuberay"
            else None,
        },
    }
    return drop_none(doc)


CLUSTER_LABEL = "ray.io/cluster"  # KubeRay puts it on every Pod of the cluster
NODE_TYPE_LABEL = "ray.io/node-type"  # head | worker
# the operator's Pod, as both of KubeRay's installs (Helm chart, kustomize) label it
OPERATOR_LABELS = {"app.kubernetes.io/component": "kuberay-operator"}
DASHBOARD_PORT, SERVE_PORT = 8265, 8000


def _peer(namespace: str | None, pod_labels: dict[str, str]) -> dict:
    """A NetworkPolicy peer: Pods with `pod_labels` (any, if empty) in `namespace` (this one,
    if None)."""
    peer: dict = {"podSelector": {"matchLabels": dict(pod_labels)} if pod_labels else {}}
    if namespace is not None:
        peer["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
    return peer


def _ports(ports) -> list[dict]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def _client_rules(plan: Plan) -> list[dict]:
    """Ingress rules for the head beyond the cluster itself: named clients, the operator."""
    sec = plan.security
    rules = []
    if sec.clients:
        rules.append(
            {
                "from": [_peer(c.namespace, c.pod_labels) for c in sec.clients],
                "ports": _ports(sec.client_ports),
            }
        )
    if sec.operator_namespace:
        rules.append(
            {
                "from": [_peer(sec.operator_namespace, OPERATOR_LABELS)],
                "ports": _ports((DASHBOARD_PORT, SERVE_PORT)),
            }
        )
    return rules


def network_policy_documents(plan: Plan) -> list[dict]:
    """Plain NetworkPolicies for the cluster's Pods (policies add up): the cluster's own Pods
    reach each other on every port (Ray picks many ports at random); and, if the spec names
    any, the clients (and the operator) reach the head's client ports. Nothing else gets in.
    Egress is left open (image pulls, object stores, the API server for the autoscaler)."""
    cluster = {CLUSTER_LABEL: plan.name}

    def policy(name: str, selector: dict, rules: list[dict]) -> dict:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": plan.namespace},
            "spec": {
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress"],
                "ingress": rules,
            },
        }

    docs = [
        policy(f"{plan.name}-ray", cluster, [{"from": [{"podSelector": {"matchLabels": cluster}}]}])
    ]
    clients = _client_rules(plan)
    if clients:
        docs.append(
            policy(f"{plan.name}-ray-clients", {**cluster, NODE_TYPE_LABEL: "head"}, clients)
        )
    return docs


def kuberay_network_policy(plan: Plan) -> dict:
    """KubeRay's own `spec.networkPolicy` (alpha feature gate RayClusterNetworkPolicy): it
    admits the cluster's own Pods itself; spotray adds the clients to the head's rules."""
    rules = _client_rules(plan)
    return {"mode": "DenyAllIngress", "head": {"ingressRules": rules} if rules else None}


def service_account_document(plan: Plan) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": plan.security.service_account,
            "namespace": plan.namespace,
            "labels": {CLUSTER_LABEL: plan.name},
        },
        "automountServiceAccountToken": False,  # Pods that need it (the head) ask for it
    }


def raycluster_documents(plan: Plan) -> list[dict]:
    """Every Kubernetes object of raycluster.yaml, in the order `kubectl apply` should create
    them: the service account the Pods run as, the RayCluster, its NetworkPolicy."""
    docs = []
    if plan.security.create_service_account and plan.security.service_account:
        docs.append(drop_none(service_account_document(plan)))
    docs.append(raycluster_document(plan))
    if plan.security.network_policy == "plain":
        docs += [drop_none(d) for d in network_policy_documents(plan)]
    return docs


HEADER = (
    "# Generated by spotray from {name!r}. Edit the spec and re-render rather than this file.\n"
)


def render_raycluster(plan: Plan, *, source: str = "spec") -> str:
    """`raycluster.yaml` text: one YAML document per object."""
    return HEADER.format(name=source) + "---\n".join(dump(d) for d in raycluster_documents(plan))
