"""Can a Pod be scheduled onto a node with these labels and taints? Kubernetes semantics.

Our own code, written from the Kubernetes docs pages "Assigning Pods to Nodes" and "Taints and
Tolerations". ``nodeSelector``: every key must be a node label with exactly that value. Required
node affinity (``affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution``) must hold
too: its ``nodeSelectorTerms`` are ORed, a term's ``matchExpressions`` and ``matchFields`` ANDed; a
term with neither, or an empty terms list, matches nothing; ``preferred...`` never blocks.
Operators: In, NotIn (true when the label is absent), Exists, DoesNotExist, Gt/Lt (label and the
single value both base-10 int64). ``matchFields`` names ``metadata.name``, unknown here: the term
is undecided. Only NoSchedule and NoExecute taints block. A toleration tolerates a taint when its
effect is empty or equal and either its operator is Exists with an empty or equal key, or Equal
(the default) with equal key and value (missing value = "").

Nothing raises: a malformed part (wrong type, non-string values, what the API server would reject)
never matches and is described in ``Verdict.unknown``. ``fits`` is False unless the answer is a
definite yes, so ``fits=False`` with no ``reasons`` means "undecided, see ``unknown``"; ``unknown``
may be non-empty with ``fits=True`` when malformed parts did not change the answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_INT = re.compile(r"[+-]?[0-9]+")
_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_REQUIRED = ("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution")


@dataclass(frozen=True)
class NodeTaint:
    key: str
    value: str
    effect: str  # Kubernetes spelling: NoSchedule | PreferNoSchedule | NoExecute

    def __str__(self) -> str:
        return f"{self.key}{'=' if self.value else ''}{self.value}:{self.effect}"


@dataclass(frozen=True)
class Verdict:
    fits: bool  # the Pod may be scheduled on such a node
    reasons: tuple[str, ...]  # why not (empty when fits), each a short sentence naming the field
    unknown: tuple[str, ...] = ()  # parts that could not be decided, each a sentence


def describe_labels(labels: Mapping[str, str]) -> str:
    """``k=v, k2=v2`` sorted by key, or ``(no labels)``."""
    if not isinstance(labels, Mapping) or not labels:
        return "(no labels)"
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items(), key=lambda kv: str(kv[0])))


def _int64(text: object) -> int | None:
    """Go's strconv.ParseInt(text, 10, 64), or None."""
    if isinstance(text, str) and len(text) < 30 and _INT.fullmatch(text):
        return int(text) if -(2**63) <= int(text) < 2**63 else None
    return None


def _as_list(value: object, where: str, unknown: list[str]) -> list | None:
    """A list (None counts as empty), or None after noting that ``value`` is not a list."""
    if value is None or isinstance(value, list):
        return value or []
    unknown.append(f"{where} is a {type(value).__name__}, not a list; treated as not matching")
    return None


class _UnknownLabel(str):
    """A label the node may or may not carry, with a value not known (e.g. GKE's Workload
    Identity label on a pool whose metadata mode follows the cluster's default)."""


UNKNOWN_LABEL = _UnknownLabel("?")


def _expression(expr: object, labels: Mapping, where: str, reasons: list, unknown: list) -> bool:
    """One matchExpressions entry. Notes a reason or an unknown sentence when it does not match."""
    key = expr.get("key") if isinstance(expr, Mapping) else None
    if not isinstance(key, str) or not key:
        unknown.append(f"{where}: malformed expression {expr!r}; treated as not matching")
        return False
    if labels.get(key) is UNKNOWN_LABEL:
        unknown.append(f"{where}: whether nodes carry {key!r} is not known; assumed to match")
        return True
    op, values = expr.get("operator"), expr.get("values")
    values = [] if values is None else values
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        unknown.append(f"{where}: values of {key!r} must be a list of strings (quote them)")
        return False
    bad = (
        (op in ("In", "NotIn") and not values and "needs at least one value")
        or (op in ("Exists", "DoesNotExist") and values and "takes no values")
        or (op in ("Gt", "Lt") and len(values) != 1 and "takes exactly one value")
    )
    if bad:
        unknown.append(f"{where}: key {key!r}: operator {op} {bad}; treated as not matching")
        return False
    present, label = key in labels, labels.get(key)
    state = f"node has {label!r}" if present else "label absent"
    shown = f"key {key!r} {op}" + (f" {values!r}" if values else "")
    if op in ("In", "NotIn"):
        ok = (present and label in values) == (op == "In")
    elif op in ("Exists", "DoesNotExist"):
        ok = present == (op == "Exists")
    elif op in ("Gt", "Lt"):
        bound, have = _int64(values[0]), _int64(label)
        if bound is None:
            state = f"{values[0]!r} is not an integer"
        elif present and have is None:
            state = f"node has {label!r}, not an integer"
        ok = None not in (bound, have) and (have > bound if op == "Gt" else have < bound)
    else:
        reasons.append(f"{where}: key {key!r} has unknown operator {op!r}, so it does not match")
        return False
    if not ok:
        reasons.append(f"{where}: {shown} does not match ({state})")
    return ok


def _term(term: object, labels: Mapping, where: str, reasons: list, unknown: list) -> bool | None:
    """One nodeSelectorTerm: True, False, or None when it hinges on matchFields (node name)."""
    if not isinstance(term, Mapping):
        unknown.append(f"{where}: term {term!r} is not a mapping; treated as not matching")
        return False
    exprs = _as_list(term.get("matchExpressions"), f"{where} matchExpressions", unknown)
    fields = _as_list(term.get("matchFields"), f"{where} matchFields", unknown)
    if exprs is None or fields is None:
        return False
    if not exprs and not fields:
        reasons.append(f"{where}: term has no matchExpressions or matchFields, so matches nothing")
        return False
    result: bool | None = True
    for expr in exprs:
        if not _expression(expr, labels, where, reasons, unknown):
            result = False
    for field in fields:
        if isinstance(field, Mapping) and field.get("key") == "metadata.name":
            unknown.append(f"{where}: matchFields on metadata.name depends on the node name")
            result = None if result is True else result
        else:
            unknown.append(f"{where}: malformed matchFields {field!r}; treated as not matching")
            result = False
    return result


def _node_selector(selector: object, labels: Mapping, reasons: list, unknown: list) -> bool:
    if selector is None:
        return True
    if not isinstance(selector, Mapping):
        unknown.append(f"nodeSelector is a {type(selector).__name__}, not a mapping")
        return False
    ok = True
    for key, want in selector.items():
        if not isinstance(key, str) or not isinstance(want, str):
            unknown.append(f"nodeSelector entry {key!r}: {want!r} must be strings (quote it)")
            ok = False
        elif labels.get(key) is UNKNOWN_LABEL:
            unknown.append(f"nodeSelector: whether nodes carry {key!r} is not known; assumed")
        elif key not in labels or labels[key] != want:
            state = f"node has {labels[key]!r}" if key in labels else "label absent"
            reasons.append(f"nodeSelector: key {key!r} requires {want!r} ({state})")
            ok = False
    return ok


def matches_node_affinity(pod_spec: Mapping, labels: Mapping[str, str]) -> Verdict:
    """nodeSelector plus required node affinity of ``pod_spec`` against a node's ``labels``."""
    if not isinstance(pod_spec, Mapping):
        return Verdict(False, (), (f"pod spec is a {type(pod_spec).__name__}, not a mapping",))
    labels = labels if isinstance(labels, Mapping) else {}
    reasons, unknown = [], []
    fits = _node_selector(pod_spec.get("nodeSelector"), labels, reasons, unknown)
    block: object = pod_spec
    for depth, name in enumerate(_REQUIRED):
        block = block.get(name)
        if block is None:
            return Verdict(fits, tuple(reasons), tuple(unknown))
        if not isinstance(block, Mapping):
            unknown.append(f"{'.'.join(_REQUIRED[: depth + 1])} is not a mapping; not matching")
            return Verdict(False, tuple(reasons), tuple(unknown))
    terms = _as_list(block.get("nodeSelectorTerms"), "nodeSelectorTerms", unknown)
    if terms == []:
        reasons.append("node affinity: nodeSelectorTerms is missing or empty, so nothing matches")
    term_reasons: list[str] = []
    results = []
    for i, term in enumerate(terms or []):
        where = "node affinity" if len(terms) == 1 else f"node affinity term {i + 1}"
        results.append(_term(term, labels, where, term_reasons, unknown))
    if True not in results:
        fits = False
        reasons += term_reasons
    return Verdict(fits, () if fits else tuple(reasons), tuple(unknown))


def _toleration(tol: object, where: str, unknown: list) -> tuple[str, str, str, str] | None:
    """``(key, operator, value, effect)`` with defaults filled in, or None if invalid."""
    if not isinstance(tol, Mapping):
        unknown.append(f"{where} {tol!r} is not a mapping; it tolerates nothing")
        return None
    parts = [tol.get(f) for f in ("key", "operator", "value", "effect")]
    if not all(p is None or isinstance(p, str) for p in parts):
        unknown.append(f"{where} {dict(tol)!r} has non-string fields (quote them); ignored")
        return None
    key, op, value, effect = (p or "" for p in parts)
    op = op or "Equal"
    bad = (
        (op not in ("Equal", "Exists") and f"unknown operator {op!r}")
        or (op == "Exists" and value and "operator Exists must not have a value")
        or (op == "Equal" and not key and "operator Equal needs a key")
        or (effect not in ("", *_EFFECTS) and f"unknown effect {effect!r}")
    )
    if bad:
        unknown.append(f"{where} {dict(tol)!r}: {bad}; it tolerates nothing")
        return None
    return key, op, value, effect


def _tolerated(tol: tuple[str, str, str, str], taint: NodeTaint) -> bool:
    key, op, value, effect = tol
    if effect and effect != taint.effect:
        return False
    return key in ("", taint.key) if op == "Exists" else (key, value) == (taint.key, taint.value)


def extended_resources(pod_spec: Mapping) -> set[str]:
    """Extended resources (names with a domain, e.g. nvidia.com/gpu) any container requests."""
    names: set[str] = set()
    containers = pod_spec.get("containers") if isinstance(pod_spec, Mapping) else None
    for container in containers if isinstance(containers, list) else []:
        resources = container.get("resources") if isinstance(container, Mapping) else None
        for kind in ("requests", "limits"):
            section = resources.get(kind) if isinstance(resources, Mapping) else None
            for name in section if isinstance(section, Mapping) else {}:
                if "/" in str(name) and not str(name).startswith("kubernetes.io/"):
                    names.add(str(name))
    return names


def tolerates(pod_spec: Mapping, taints: Sequence[NodeTaint]) -> Verdict:
    """Whether ``pod_spec.tolerations`` tolerate every NoSchedule / NoExecute taint."""
    unknown: list[str] = []
    if not isinstance(pod_spec, Mapping):
        unknown.append(f"pod spec is a {type(pod_spec).__name__}, not a mapping")
        pod_spec = {}
    tols = _as_list(pod_spec.get("tolerations"), "tolerations", unknown) or []
    valid = [
        t for i, raw in enumerate(tols) if (t := _toleration(raw, f"toleration {i + 1}", unknown))
    ]
    # Kubernetes' ExtendedResourceToleration admission plugin (on in GKE): a Pod that requests
    # an extended resource tolerates a NoSchedule taint whose key is that resource's name
    valid += [(name, "Exists", "", "NoSchedule") for name in extended_resources(pod_spec)]
    reasons = []
    for taint in taints or ():
        if taint.effect == "PreferNoSchedule":
            continue
        if taint.effect not in _EFFECTS:
            unknown.append(f"taint {taint} has an unknown effect; treated as blocking")
        if not any(_tolerated(t, taint) for t in valid):
            reasons.append(f"taint {taint} is not tolerated")
    return Verdict(not reasons, tuple(reasons), tuple(unknown))


def can_schedule(
    pod_spec: Mapping, labels: Mapping[str, str], taints: Sequence[NodeTaint]
) -> Verdict:
    """Node affinity (with nodeSelector) and tolerations together."""
    a, t = matches_node_affinity(pod_spec, labels), tolerates(pod_spec, taints)
    unknown = tuple(dict.fromkeys(a.unknown + t.unknown))
    return Verdict(a.fits and t.fits, a.reasons + t.reasons, unknown)


# --- what a Pod spec asks of its nodes (shared by the SR2xx rules and the Autopilot model) ----

# Node labels by which a Pod asks for Spot (or preemptible) capacity, and the values that mean
# yes: GKE Standard's Spot and preemptible node labels, and the node-provisioning label GKE puts
# on Spot nodes (Autopilot selects Spot by it).
SPOT_SELECTORS = {
    "cloud.google.com/gke-spot": {"true"},
    "cloud.google.com/gke-preemptible": {"true"},
    "cloud.google.com/gke-provisioning": {"spot", "preemptible"},
}


def required_terms(spec: Mapping) -> list:
    """The nodeSelectorTerms of a Pod spec's required node affinity ([] if none)."""
    block: object = spec
    for name in _REQUIRED:
        block = block.get(name) if isinstance(block, Mapping) else None
    terms = block.get("nodeSelectorTerms") if isinstance(block, Mapping) else None
    return terms if isinstance(terms, list) else []


def required_expressions(spec: Mapping) -> list[dict]:
    """Every matchExpressions entry of the required node affinity's terms (mappings only)."""
    return [
        expr
        for term in required_terms(spec)
        if isinstance(term, Mapping)
        for expr in (term.get("matchExpressions") or [])
        if isinstance(expr, dict)
    ]


def selects_spot(spec: Mapping) -> bool:
    """Whether a Pod spec explicitly asks for Spot nodes: a nodeSelector or a required
    node-affinity expression that only Spot (or preemptible) nodes satisfy."""
    selector = spec.get("nodeSelector")
    if isinstance(selector, Mapping) and any(
        str(selector.get(key, "")).lower() in values for key, values in SPOT_SELECTORS.items()
    ):
        return True
    for expr in required_expressions(spec):
        if expr.get("key") not in SPOT_SELECTORS:
            continue
        values = {str(v).lower() for v in expr.get("values") or []}
        wanted = SPOT_SELECTORS[expr["key"]]
        if expr.get("operator") == "Exists" or (
            expr.get("operator") == "In" and values and values <= wanted
        ):
            return True
    return False
