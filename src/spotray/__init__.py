"""spotray: run Ray on GKE Spot VMs without losing work.

>>> import spotray
>>> spec = spotray.load_spec("examples/seed.yaml")
>>> plan = spotray.plan(spec)          # every derived number, once
>>> files = spotray.render(plan)       # node-pools.tf + raycluster.yaml, in memory
"""

from ._api import plan, render
from ._errors import InputError, OutputError, Problem, SpecError, SpotrayError
from ._plan import NodePool, Plan, RayGroup
from ._render import Rendered
from ._spec import Spec, load_spec

__version__ = "0.1.0"

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
    "load_spec",
    "plan",
    "render",
]
