"""SR0xx: what the inputs let spotray check."""

from __future__ import annotations

from .._finding import Severity
from .._registry import Rule, register


@register
class NoNodePools(Rule):
    """No node pools were read, so placement and fit were not checked.

    What it does
        Reports, once per RayCluster, that no node pool was read: no Terraform file, `--pool`
        or `--spec` described the GKE node pools, or the Terraform given holds none that spotray
        reads (a module's `node_pools` list, say). The scheduling (SR2xx), fit (SR3xx) and
        capacity (SR4xx) rules could not run.

    Why is this bad?
        A RayCluster that KubeRay accepts can still have Pods that fit no node or land on the
        wrong market. Those are only visible next to the node pools.

    Example
        spotray check raycluster.yaml
        spotray check raycluster.yaml gke-module-main.tf   # pools in a module's node_pools list

    Use instead
        spotray check raycluster.yaml node-pools.tf
        spotray check raycluster.yaml --pool name=small-worker,machine=e2-standard-2,spot=true
    """

    code = "SR001"
    name = "no-node-pools"
    severity = Severity.INFO
    fix = "Pass the node pools' Terraform file, or describe them with --pool."

    def check(self, ctx):
        if ctx.docs.pools:
            return
        why = (
            "the Terraform given holds no google_container_node_pool spotray can read"
            if ctx.docs.pools_given
            else "no node pools given"
        )
        for cluster in ctx.clusters:
            yield self.finding(
                cluster.doc,
                cluster.at(),
                f"{cluster.kind} {cluster.name!r}: {why}; placement, fit and capacity were not "
                "checked",
            )


@register
class NoRayCluster(Rule):
    """A manifest file with no RayCluster, RayJob or RayService in it.

    What it does
        Reports a YAML file whose documents are all other Kubernetes kinds (a Gateway, an
        Ingress, a ConfigMap ...).

    Why is this bad?
        Nothing in it was checked; if you meant to check a Ray cluster, the file is the wrong one.

    Example
        spotray check ingress.yaml

    Use instead
        spotray check raycluster.yaml node-pools.tf
    """

    code = "SR002"
    name = "no-ray-cluster"
    severity = Severity.INFO
    fix = "Pass the file that holds the RayCluster (or RayJob/RayService)."

    def check(self, ctx):
        for file in ctx.docs.without_ray:
            yield self.finding(
                (file, None),
                (),
                "no RayCluster, RayJob or RayService in this file; nothing checked",
            )
