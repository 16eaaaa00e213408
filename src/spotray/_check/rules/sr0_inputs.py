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
        if ctx.docs.unread:
            why = "the Terraform's node pools could not be enumerated (see SR003)"
        elif ctx.docs.pools_given:
            why = "the Terraform given holds no google_container_node_pool spotray can read"
        else:
            why = "no node pools given"
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


@register
class TerraformNotRead(Rule):
    """A node pool whose Terraform could not be fully evaluated.

    What it does
        Names, once per node pool, the fields spotray could not evaluate: a variable with no
        default and no value (pass the module's `.tfvars`, `--var-file` or `--var`), an
        expression or function spotray does not evaluate, a `for_each` or `dynamic` block over
        such a value, or a module's whole `node_pools` list. An unknown field is never guessed:
        the rules that need it skip the pool (a pool with unknown taints is not "untainted").

    Why is this bad?
        A check that silently skipped part of the input looks like a check that passed.

    Example
        spotray check raycluster.yaml main.tf   # machine_type = var.machine_type, no value

    Use instead
        spotray check raycluster.yaml main.tf variables.tf terraform.tfvars
        spotray check raycluster.yaml infra/ --var-file prod.tfvars --var machine_type=n2-standard-8
    """

    code = "SR003"
    name = "terraform-not-read"
    severity = Severity.INFO
    fix = "Pass the module's variables (.tfvars, --var-file, --var) with the Terraform files."

    def check(self, ctx):
        for unread in ctx.docs.unread:
            yield self.finding(
                (unread.file, unread.line),
                (),
                f"{unread.name}: node pools not enumerated: {unread.what} could not be "
                "evaluated; placement, fit and capacity ignore whatever pools it makes",
            )
        for pool in ctx.docs.pools:
            if pool.unread:
                yield self.finding(
                    (pool.file, pool.line),
                    (),
                    f"node pool {pool.name!r}: not evaluated: {', '.join(pool.unread)}; "
                    "rules that need these skipped it",
                )


@register
class UnknownMachineType(Rule):
    """A node pool whose machine type spotray does not know.

    What it does
        Warns, once per pool, that its machine type is in neither Compute Engine's price list
        nor the machine types spotray adds from Google's documentation (`spotray` knows every
        type priced in its bundled catalog). Wherever the pool comes from (Terraform, a pool
        file, `--pool`), the fit, packing and capacity rules skip it; nothing else changes.

    Why is this bad?
        Usually a typo (`n2-standrad-8`), which `terraform apply` would reject only after the
        plan; otherwise a type newer than spotray's catalog, whose fit was not checked.

    Example
        spotray check raycluster.yaml --pool name=workers,machine=n2-standrad-8,spot=true

    Use instead
        spotray check raycluster.yaml --pool name=workers,machine=n2-standard-8,spot=true
    """

    code = "SR004"
    name = "unknown-machine-type"
    severity = Severity.WARNING
    fix = "Check the machine type's spelling (gcloud compute machine-types list)."

    def check(self, ctx):
        for pool in ctx.docs.pools:
            if pool.machine_type and pool.machine is None:
                yield self.finding(
                    (pool.file, pool.lines.get("node_config", pool.line)),
                    (),
                    f"node pool {pool.name!r}: unknown machine type {pool.machine_type!r}; "
                    "fit, packing and capacity were not checked for it",
                )
