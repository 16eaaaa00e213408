"""spotray: run Ray on GKE Spot VMs without losing work.

>>> import spotray
>>> spec = spotray.load_spec("examples/seed.yaml")
>>> plan = spotray.plan(spec)          # every derived number, once
>>> files = spotray.render(plan)       # node-pools.tf + raycluster.yaml, in memory
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._errors import InputError, OutputError, Problem, SpecError, SpotrayError

if TYPE_CHECKING:
    from ._api import advise, cost, in_region, plan, render, simulate
    from ._plan import NodePool, Plan, RayGroup
    from ._render import Rendered
    from ._spec import Spec, load_spec

__version__ = "0.1.0"

# Imported on first use, so that `spotray check` (which needs no spec models) starts fast.
_LAZY = {
    "advise": "._api",
    "cost": "._api",
    "in_region": "._api",
    "plan": "._api",
    "render": "._api",
    "simulate": "._api",
    "NodePool": "._plan",
    "Plan": "._plan",
    "RayGroup": "._plan",
    "Rendered": "._render",
    "Spec": "._spec",
    "load_spec": "._spec",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'spotray' has no attribute {name!r}")


__all__ = [
    "InputError",
    "NodePool",
    "OutputError",
    "Plan",
    "Problem",
    "RayGroup",
    "Rendered",
    "Spec",
    "SpecError",
    "SpotrayError",
    "advise",
    "cost",
    "in_region",
    "load_spec",
    "plan",
    "render",
    "simulate",
]
