"""Plan → `node-pools.tf`: one `google_container_node_pool` per pool spotray manages."""

from __future__ import annotations

from .._plan import GKE_DEFAULT_MAX_PODS, NodePool, Plan
from .._plan._model import NODE_ACCOUNT, NODE_ACCOUNT_REFERENCE
from ._hcl import block, dumps, expression, expression_or_string, object_key, string

# Provider releases: kubelet_config's shutdown fields arrived in google/google-beta 7.39.
PROVIDER_VERSION = ">= 6.2"
PROVIDER_VERSION_KUBELET_SHUTDOWN = ">= 7.39"
CLUSTER_VARIABLE = "cluster_name"


def _node_config(pool: NodePool) -> list[dict]:
    taints = [
        block(key=string(t.key), value=string(t.value), effect=string(t.provider_effect))[0]
        for t in pool.taints
    ]
    accelerator = None
    if pool.gpu_type and not pool.machine.bundled_gpus:
        accelerator = block(type=string(pool.gpu_type), count=pool.gpu_count)
    kubelet = None
    if pool.kubelet_shutdown is not None:
        total, critical = pool.kubelet_shutdown
        kubelet = block(
            shutdown_grace_period_seconds=total,
            shutdown_grace_period_critical_pods_seconds=critical,
        )
    return block(
        machine_type=string(pool.machine.name),
        spot=pool.spot,
        disk_size_gb=pool.disk_size_gb,
        disk_type=string(pool.disk_type) if pool.disk_type else None,
        metadata={object_key(k): string(v) for k, v in pool.metadata.items()} or None,
        labels={object_key(k): string(v) for k, v in pool.node_labels.items()} or None,
        workload_metadata_config=block(mode=string(pool.workload_metadata_mode)),
        shielded_instance_config=block(
            enable_secure_boot=pool.secure_boot,
            enable_integrity_monitoring=pool.integrity_monitoring,
        ),
        taint=taints or None,
        service_account=expression_or_string(pool.service_account)
        if pool.service_account
        else None,
        oauth_scopes=[string(s) for s in pool.oauth_scopes],
        guest_accelerator=accelerator,
        kubelet_config=kubelet,
    )


def _autoscaling(pool: NodePool) -> list[dict]:
    a = pool.autoscaling
    return block(
        min_node_count=a.min_per_zone,
        max_node_count=a.max_per_zone,
        total_min_node_count=a.total_min,
        total_max_node_count=a.total_max,
        location_policy=string(a.location_policy),
    )


def _pool_resource(plan: Plan, pool: NodePool, cluster: str) -> dict:
    body = {
        "provider": plan.provider,
        "name": string(pool.name),
        "project": string(plan.project) if plan.project else None,
        "location": string(pool.region),
        "node_locations": [string(z) for z in pool.zones],
        "cluster": cluster,
        "initial_node_count": pool.initial_node_count,
        # the spec's gke.max_pods_per_node where it is not GKE's default: the document says it,
        # so `spotray check` of the files packs nodes as the plan does
        "max_pods_per_node": pool.max_pods if pool.max_pods != GKE_DEFAULT_MAX_PODS else None,
        "autoscaling": _autoscaling(pool),
        "timeouts": block(**{k: string(v) for k, v in pool.timeouts.items()})
        if pool.timeouts
        else None,
        "node_config": _node_config(pool),
        "management": block(auto_repair=pool.auto_repair, auto_upgrade=pool.auto_upgrade),
        "upgrade_settings": block(max_surge=pool.max_surge, max_unavailable=pool.max_unavailable),
        "lifecycle": block(ignore_changes=[expression(x) for x in pool.ignore_changes])
        if pool.ignore_changes
        else None,
        # nodes need their roles before they start (logs, metrics, image pulls)
        "depends_on": [expression(f"google_project_iam_member.{NODE_ACCOUNT}")]
        if pool.service_account == NODE_ACCOUNT_REFERENCE and plan.security.node_account_id
        else None,
    }
    return {'"google_container_node_pool"': {string(pool.name): block(**body)[0]}}


def terraform_document(plan: Plan) -> dict:
    """The python-hcl2 document of the node pools (also what tests compare against)."""
    kubelet = any(p.kubelet_shutdown for p in plan.managed_pools)
    version = PROVIDER_VERSION_KUBELET_SHUTDOWN if kubelet else PROVIDER_VERSION
    provider_source = f"hashicorp/{plan.provider}"
    doc: dict = {
        "terraform": block(
            required_providers=block(
                **{plan.provider: {"source": string(provider_source), "version": string(version)}}
            )
        )
    }
    if plan.cluster.startswith("${"):
        cluster = plan.cluster
    else:
        doc["variable"] = [
            {
                string(CLUSTER_VARIABLE): block(
                    description=string("Name of the GKE cluster the Ray node pools join."),
                    type="string",
                    default=string(plan.cluster),
                )[0]
            }
        ]
        cluster = expression(f"var.{CLUSTER_VARIABLE}")
    doc["resource"] = [
        *_node_account(plan),
        *(_pool_resource(plan, pool, cluster) for pool in plan.managed_pools),
    ]
    return doc


def _node_account(plan: Plan) -> list[dict]:
    """The node service account spotray defines (when the spec names none), and its roles."""
    sec = plan.security
    if sec.node_account_id is None:
        return []
    account = block(
        provider=plan.provider,
        account_id=string(sec.node_account_id),
        display_name=string(f"GKE nodes of Ray cluster {plan.name}"),
        project=string(plan.project) if plan.project else None,
    )[0]
    roles = ", ".join(string(r) for r in sec.node_roles)
    member = block(
        provider=plan.provider,
        for_each=expression(f"toset([{roles}])"),
        project=expression(f"google_service_account.{NODE_ACCOUNT}.project"),
        role=expression("each.value"),
        # a template: the literal prefix, then the account's email
        member=f'"serviceAccount:${{google_service_account.{NODE_ACCOUNT}.email}}"',
    )[0]
    return [
        {'"google_service_account"': {string(NODE_ACCOUNT): account}},
        {'"google_project_iam_member"': {string(NODE_ACCOUNT): member}},
    ]


HEADER = (
    "# Generated by spotray from {name!r}: GKE node pools for RayCluster {cluster}.\n"
    "# Edit the spec and re-render rather than this file.\n\n"
)


def render_terraform(plan: Plan, *, source: str = "spec") -> str:
    """`node-pools.tf` for the plan's managed pools, laid out like `terraform fmt`."""
    return HEADER.format(name=source, cluster=plan.name) + dumps(terraform_document(plan))
