"""Plan → documents: GKE node pools (Terraform HCL) and a KubeRay RayCluster (YAML)."""

from __future__ import annotations

from .._plan import Plan
from ._files import RAYCLUSTER_FILE, TERRAFORM_FILE, Rendered
from ._raycluster import raycluster_document, render_raycluster
from ._terraform import render_terraform, terraform_document


def render(plan: Plan, *, source: str = "spec") -> Rendered:
    """Render every document of a plan, in memory.

    Args:
        plan: the resolved plan (`spotray.plan(spec)`).
        source: the spec's name, quoted in the files' header comments.

    Returns:
        `Rendered`, whose `.files` maps file name to text and `.write(dir)` writes them atomically.
    """
    return Rendered(
        {
            TERRAFORM_FILE: render_terraform(plan, source=source),
            RAYCLUSTER_FILE: render_raycluster(plan, source=source),
        }
    )


__all__ = [
    "RAYCLUSTER_FILE",
    "TERRAFORM_FILE",
    "Rendered",
    "raycluster_document",
    "render",
    "render_raycluster",
    "render_terraform",
    "terraform_document",
]
