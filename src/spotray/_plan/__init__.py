"""Spec → Plan: every derived number (pools, allocatable, pods per node, prices), once."""

from __future__ import annotations

from ._allocatable import Resources, allocatable, capacity, daemonset_overhead
from ._catalog import GPU_RULES, ZONES, MachineType, Price, catalog, format_usd, gpu_problem
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


def __getattr__(name: str):
    # the resolver needs the spec models (pydantic); the checker, which only needs the
    # model above, must not pay for them
    if name in ("pods_per_node", "resolve_plan"):
        from . import _resolve

        return getattr(_resolve, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "format_usd",
    "gpu_problem",
    "pods_fitting",
    "pods_per_node",
    "resolve_plan",
]
