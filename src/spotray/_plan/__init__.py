"""Spec → Plan: every derived number (pools, allocatable, pods per node, prices), once."""

from __future__ import annotations

from ._allocatable import Resources, allocatable, capacity, daemonset_overhead
from ._catalog import GPU_RULES, ZONES, MachineType, Price, catalog, format_usd, gpu_problem
from ._model import (
    ALLOCATE_TIMEOUT_ENV,
    AVAILABILITY_RECOVERY_ENV,
    GKE_CRITICAL_PODS_SECONDS,
    GKE_DEFAULT_MAX_PODS,
    GKE_SPOT_NODE_GRACE_SECONDS,
    GKE_SPOT_POD_WINDOW,
    PENDING_IDLE_ENV,
    Autoscaling,
    Fallback,
    NodePool,
    Packing,
    Plan,
    PodShape,
    RayGroup,
    Shutdown,
    Taint,
    filling_pod,
    packing,
    pods_fitting,
)


def __getattr__(name: str):
    # the resolver needs the spec models (pydantic); the checker, which only needs the
    # model above, must not pay for them
    if name in ("pods_per_node", "resolve_plan"):
        from . import _resolve

        return getattr(_resolve, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ALLOCATE_TIMEOUT_ENV",
    "AVAILABILITY_RECOVERY_ENV",
    "GKE_CRITICAL_PODS_SECONDS",
    "GKE_DEFAULT_MAX_PODS",
    "GKE_SPOT_NODE_GRACE_SECONDS",
    "GKE_SPOT_POD_WINDOW",
    "GPU_RULES",
    "PENDING_IDLE_ENV",
    "ZONES",
    "Autoscaling",
    "Fallback",
    "MachineType",
    "NodePool",
    "Packing",
    "Plan",
    "PodShape",
    "Price",
    "RayGroup",
    "Resources",
    "Shutdown",
    "Taint",
    "allocatable",
    "capacity",
    "catalog",
    "daemonset_overhead",
    "filling_pod",
    "format_usd",
    "gpu_problem",
    "packing",
    "pods_fitting",
    "pods_per_node",
    "resolve_plan",
]
