"""Spec → Plan: every derived number (pools, allocatable, pods per node, prices), once."""

from ._allocatable import Resources, allocatable, capacity, daemonset_overhead
from ._catalog import GPU_RULES, ZONES, MachineType, Price, catalog, gpu_problem
from ._model import (
    Autoscaling,
    NodePool,
    Plan,
    PodShape,
    RayGroup,
    Shutdown,
    Taint,
    filling_pod,
    pods_fitting,
)
from ._resolve import pods_per_node, resolve_plan

__all__ = [
    "GPU_RULES",
    "ZONES",
    "Autoscaling",
    "MachineType",
    "NodePool",
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
    "gpu_problem",
    "pods_fitting",
    "pods_per_node",
    "resolve_plan",
]
