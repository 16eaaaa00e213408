"""What Ray's autoscaler sees of a KubeRay group: the Ray resources and labels of its nodes.

Ray's KubeRay autoscaler (Ray 2.60, `autoscaler/_private/kuberay/autoscaling_config.py`) reads
them from the group, in this order of precedence (facts from that file; our own code):

- the group's top-level `resources` map (KubeRay >= 1.4): `CPU`, `GPU`, `TPU`, `memory`, and
  every other key as a custom resource (then `rayStartParams.resources` is ignored);
- `rayStartParams`: `num-cpus`, `num-gpus`, `memory` (bytes), `resources` (a JSON map, often
  written with escaped quotes);
- the Ray container (the first container) `resources.limits`, then `resources.requests`: `cpu`,
  `memory`, the first `*gpu` key with a positive quantity, `google.com/tpu`.

Quantities are rounded up to whole numbers, as Ray does. The group's `labels` map gives its Ray
node labels.

The plan (which groups can stand in for which) and `spotray check` (SR405) both read it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from ._quantity import format_memory, parse_quantity


class Unknown(Exception):
    """The group's Ray resources cannot be read (missing, templated or malformed)."""


def _up(value: object) -> int:
    try:
        quantity = parse_quantity(value)  # type: ignore[arg-type]
    except (ValueError, TypeError, ArithmeticError):
        raise Unknown(f"not a quantity: {value!r}") from None
    return math.ceil(quantity)


def _int(value: object) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise Unknown(f"not an integer: {value!r}") from None


def _custom(text: object) -> dict[str, int]:
    raw = str(text).strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        raw = raw[1:-1]
    try:
        value = json.loads(raw.replace('\\"', '"'))
    except ValueError:
        raise Unknown(f"rayStartParams.resources is not a JSON map: {text!r}") from None
    if not isinstance(value, dict):
        raise Unknown(f"rayStartParams.resources is not a JSON map: {text!r}")
    return {str(k): _up(v) for k, v in value.items()}


def ray_resources(group: Mapping) -> dict[str, int]:
    """The Ray resources of one node of a KubeRay group (`CPU`, `memory` in bytes, `GPU`,
    `TPU`, custom ones), as Ray's KubeRay autoscaler reads them.

    Raises:
        Unknown: they cannot be read from this group.
    """
    top = group.get("resources") or {}
    params = group.get("rayStartParams") or {}
    template = group.get("template")
    spec = template.get("spec") if isinstance(template, Mapping) else None
    containers = spec.get("containers") if isinstance(spec, Mapping) else None
    if not isinstance(top, Mapping) or not isinstance(params, Mapping):
        raise Unknown("resources or rayStartParams is not a map")
    if not isinstance(containers, list) or not containers or not isinstance(containers[0], Mapping):
        raise Unknown("no Ray container")
    k8s = containers[0].get("resources") or {}
    limits = k8s.get("limits") or {} if isinstance(k8s, Mapping) else {}
    requests = k8s.get("requests") or {} if isinstance(k8s, Mapping) else {}
    if not isinstance(limits, Mapping) or not isinstance(requests, Mapping):
        raise Unknown("container resources are not maps")

    def container(name: str) -> object | None:
        return limits.get(name, requests.get(name))

    out: dict[str, int] = {}
    if "CPU" in top:
        out["CPU"] = _up(top["CPU"])
    elif "num-cpus" in params:
        out["CPU"] = _int(params["num-cpus"])
    elif container("cpu") is not None:
        out["CPU"] = _up(container("cpu"))
    else:
        raise Unknown("no CPU count (Ray's autoscaler refuses such a group)")

    if "memory" in top:
        out["memory"] = _up(top["memory"])
    elif "memory" in params:
        out["memory"] = _int(params["memory"])
    elif container("memory") is not None:
        out["memory"] = _up(container("memory"))

    if "GPU" in top:
        out["GPU"] = _up(top["GPU"])
    elif "num-gpus" in params:
        out["GPU"] = _int(params["num-gpus"])
    else:
        for key, value in [*limits.items(), *requests.items()]:
            if str(key).endswith("gpu") and _up(value) > 0:
                out["GPU"] = _up(value)
                break

    standard = {"CPU", "GPU", "TPU", "memory"}
    if top:
        custom = {str(k): _up(v) for k, v in top.items() if k not in standard}
    elif "resources" in params:
        custom = _custom(params["resources"])
    else:
        custom = {}
    if "TPU" in top:
        out["TPU"] = _up(top["TPU"])
    elif "TPU" not in custom:
        tpus = container("google.com/tpu")
        if tpus is not None and _up(tpus) > 0:
            out["TPU"] = _up(tpus)
    out.update(custom)
    return {k: v for k, v in out.items() if v or k == "CPU"}


def ray_labels(group: Mapping) -> dict[str, str]:
    """The group's Ray node labels (its top-level `labels` map, KubeRay >= 1.5)."""
    labels = group.get("labels")
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}


def shortfall(offered: Mapping[str, int], needed: Mapping[str, int]) -> list[str]:
    """What `offered` lacks of `needed`, as 'CPU 4 < 8' phrases (empty: it covers it)."""
    show = {"memory": format_memory}
    return [
        f"{name} {show.get(name, str)(offered.get(name, 0))} < {show.get(name, str)(value)}"
        for name, value in needed.items()
        if value > offered.get(name, 0)
    ]
