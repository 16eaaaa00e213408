"""User input: the spec (YAML validated with pydantic), with source locations."""

from ._load import field_path, load_spec, located, spec_from_document
from ._models import (
    Autoscaler,
    Gcp,
    Gke,
    Gpu,
    Head,
    PoolOptions,
    Ray,
    Spec,
    SpotShutdown,
    Taint,
    Timeouts,
    Toleration,
    WorkerGroup,
)

__all__ = [
    "Autoscaler",
    "Gcp",
    "Gke",
    "Gpu",
    "Head",
    "PoolOptions",
    "Ray",
    "Spec",
    "SpotShutdown",
    "Taint",
    "Timeouts",
    "Toleration",
    "WorkerGroup",
    "field_path",
    "load_spec",
    "located",
    "spec_from_document",
]
