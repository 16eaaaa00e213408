"""Scheduling semantics: nodeSelector, required node affinity, taints and tolerations."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from spotray._check._scheduling import (
    NodeTaint,
    Verdict,
    can_schedule,
    describe_labels,
    matches_node_affinity,
    tolerates,
)

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "ray-cluster.yaml"
POOL = "cloud.google.com/gke-nodepool"
SPOT = "cloud.google.com/gke-spot"
SMALL_LABELS = {POOL: "small-worker", SPOT: "true"}
SMALL_TAINT = NodeTaint("dedicated", "small-worker", "NoSchedule")


def expr(key: str, op: str, *values: str) -> dict:
    """A pod spec with one required term holding one match expression."""
    e = {"key": key, "operator": op}
    if values:
        e["values"] = list(values)
    return terms({"matchExpressions": [e]})


def terms(*nodeselectorterms: object) -> dict:
    required = {"nodeSelectorTerms": list(nodeselectorterms)}
    return {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}
    }


def fits(spec: object, labels: dict) -> bool:
    return matches_node_affinity(spec, labels).fits


@pytest.mark.parametrize(
    ("op", "values", "labels", "expected"),
    [
        ("In", ["a", "b"], {"k": "b"}, True),
        ("In", ["a"], {"k": "c"}, False),
        ("In", ["a"], {}, False),
        ("NotIn", ["a"], {"k": "c"}, True),
        ("NotIn", ["a"], {"k": "a"}, False),
        ("NotIn", ["a"], {}, True),
        ("Exists", [], {"k": ""}, True),
        ("Exists", [], {}, False),
        ("DoesNotExist", [], {}, True),
        ("DoesNotExist", [], {"k": "x"}, False),
        ("Gt", ["5"], {"k": "6"}, True),
        ("Gt", ["5"], {"k": "5"}, False),
        ("Gt", ["-2"], {"k": "+0"}, True),
        ("Lt", ["5"], {"k": "4"}, True),
        ("Lt", ["5"], {"k": "5"}, False),
        ("Lt", ["5"], {}, False),
        ("Gt", ["5"], {"k": "abc"}, False),
        ("Gt", ["five"], {"k": "6"}, False),
        ("Lt", ["5"], {"k": "4.0"}, False),
        ("Lt", ["5"], {"k": " 4"}, False),
        ("Gt", ["1"], {"k": str(2**63)}, False),
        ("Lt", ["9" * 5000], {"k": "1"}, False),
    ],
)
def test_operators(op, values, labels, expected):
    verdict = matches_node_affinity(expr("k", op, *values), labels)
    assert verdict.fits is expected
    assert bool(verdict.reasons) is not expected
    assert verdict.unknown == ()


def test_reason_names_key_operator_and_state():
    verdict = matches_node_affinity(expr(SPOT, "In", "true"), {POOL: "x"})
    assert verdict.reasons == (
        f"node affinity: key '{SPOT}' In ['true'] does not match (label absent)",
    )
    verdict = matches_node_affinity(expr("k", "Gt", "5"), {"k": "abc"})
    assert "not an integer" in verdict.reasons[0]


def test_unknown_operator_does_not_match():
    verdict = matches_node_affinity(expr("k", "in", "a"), {"k": "a"})
    assert not verdict.fits
    assert "unknown operator 'in'" in verdict.reasons[0]


def test_terms_are_ored_and_expressions_anded():
    spec = yaml.safe_load(
        """
        affinity:
          nodeAffinity:
            requiredDuringSchedulingIgnoredDuringExecution:
              nodeSelectorTerms:
              - matchExpressions:
                - {key: a, operator: In, values: ["1"]}
                - {key: b, operator: Exists}
              - matchExpressions:
                - {key: c, operator: In, values: ["1"]}
        """
    )
    assert fits(spec, {"a": "1", "b": ""})
    assert not fits(spec, {"a": "1"})
    assert fits(spec, {"c": "1"})
    verdict = matches_node_affinity(spec, {"a": "2"})
    assert not verdict.fits
    assert [r.split(":")[0] for r in verdict.reasons] == [
        "node affinity term 1",
        "node affinity term 1",
        "node affinity term 2",
    ]


def test_empty_terms_and_empty_term_match_nothing():
    assert not fits(terms(), {"a": "1"})
    assert not fits(terms({}), {"a": "1"})
    assert not fits(terms({"matchExpressions": [], "matchFields": []}), {})
    assert not fits(terms({}, {"matchExpressions": []}), {})
    assert fits(terms({}, {"matchExpressions": [{"key": "a", "operator": "Exists"}]}), {"a": ""})
    missing = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}}}
    assert not fits(missing, {})


def test_absent_required_and_preferred_do_not_block():
    assert fits({}, {})
    assert fits({"affinity": None, "nodeSelector": None}, {})
    assert fits({"affinity": {"nodeAffinity": {}}}, {})
    preferred = {
        "preference": {"matchExpressions": [{"key": "a", "operator": "In", "values": ["x"]}]},
        "weight": 1,
    }
    spec = {
        "affinity": {
            "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [preferred]}
        }
    }
    assert fits(spec, {})


def test_node_selector():
    spec = yaml.safe_load("nodeSelector: {cloud.google.com/gke-spot: 'true', pool: a}")
    assert fits(spec, {SPOT: "true", "pool": "a", "other": "x"})
    verdict = matches_node_affinity(spec, {SPOT: "false"})
    assert not verdict.fits
    assert verdict.reasons == (
        f"nodeSelector: key '{SPOT}' requires 'true' (node has 'false')",
        "nodeSelector: key 'pool' requires 'a' (label absent)",
    )
    assert fits({"nodeSelector": {}}, {})


def test_node_selector_unquoted_boolean_is_malformed():
    spec = yaml.safe_load("nodeSelector: {cloud.google.com/gke-spot: true}")
    verdict = matches_node_affinity(spec, {SPOT: "true"})
    assert not verdict.fits
    assert "quote" in verdict.unknown[0]


def test_node_selector_and_affinity_must_both_hold():
    spec = expr("a", "Exists") | {"nodeSelector": {"b": "1"}}
    assert fits(spec, {"a": "", "b": "1"})
    assert not fits(spec, {"a": ""})
    assert not fits(spec, {"b": "1"})


def test_match_fields_is_unknown():
    field = {"key": "metadata.name", "operator": "In", "values": ["node-1"]}
    verdict = matches_node_affinity(terms({"matchFields": [field]}), {})
    assert not verdict.fits
    assert verdict.reasons == ()
    assert "metadata.name" in verdict.unknown[0]
    # another term that matches decides the answer
    both = terms(
        {"matchFields": [field]}, {"matchExpressions": [{"key": "a", "operator": "Exists"}]}
    )
    assert fits(both, {"a": "x"})
    # a failing expression in the same term decides it too
    mixed = terms(
        {"matchFields": [field], "matchExpressions": [{"key": "a", "operator": "Exists"}]}
    )
    verdict = matches_node_affinity(mixed, {})
    assert not verdict.fits
    assert verdict.reasons


@pytest.mark.parametrize(
    "expression",
    [
        {"key": "a", "operator": "In"},
        {"key": "a", "operator": "In", "values": []},
        {"key": "a", "operator": "In", "values": "x"},
        {"key": "a", "operator": "Gt", "values": [5]},
        {"key": "a", "operator": "Gt", "values": ["1", "2"]},
        {"key": "a", "operator": "Exists", "values": ["x"]},
        {"operator": "Exists"},
        "a In x",
        None,
    ],
)
def test_malformed_expressions_never_match(expression):
    verdict = matches_node_affinity(terms({"matchExpressions": [expression]}), {"a": "x"})
    assert not verdict.fits
    assert verdict.unknown


@pytest.mark.parametrize(
    "spec",
    [
        "not a spec",
        None,
        {"affinity": "yes"},
        {"affinity": {"nodeAffinity": []}},
        {"nodeSelector": ["a"]},
        terms("a"),
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": "x"}
                }
            }
        },
        terms({"matchExpressions": "a"}),
        terms({"matchFields": [{"key": "metadata.labels", "operator": "In", "values": ["a"]}]}),
    ],
)
def test_malformed_affinity_does_not_fit(spec):
    verdict = can_schedule(spec, {"a": "x"}, [])
    assert isinstance(verdict, Verdict)
    assert not verdict.fits
    assert verdict.unknown


def tol(**fields: str) -> dict:
    return {"tolerations": [fields]}


@pytest.mark.parametrize(
    ("toleration", "taint", "expected"),
    [
        (
            dict(key="d", operator="Equal", value="v", effect="NoSchedule"),
            NodeTaint("d", "v", "NoSchedule"),
            True,
        ),
        (dict(key="d", value="v"), NodeTaint("d", "v", "NoExecute"), True),
        (dict(key="d", value="w"), NodeTaint("d", "v", "NoSchedule"), False),
        (dict(key="e", value="v"), NodeTaint("d", "v", "NoSchedule"), False),
        (dict(key="d", value="v", effect="NoExecute"), NodeTaint("d", "v", "NoSchedule"), False),
        (dict(operator="Exists"), NodeTaint("anything", "v", "NoExecute"), True),
        (
            dict(key="", operator="Exists", effect="NoSchedule"),
            NodeTaint("x", "", "NoSchedule"),
            True,
        ),
        (dict(operator="Exists", effect="NoSchedule"), NodeTaint("x", "", "NoExecute"), False),
        (dict(key="d", operator="Exists"), NodeTaint("d", "any", "NoSchedule"), True),
        (dict(key="d", operator="Exists"), NodeTaint("e", "any", "NoSchedule"), False),
        (dict(key="d"), NodeTaint("d", "", "NoSchedule"), True),
        (dict(key="d", operator="Equal"), NodeTaint("d", "v", "NoSchedule"), False),
        (dict(key="d", value=""), NodeTaint("d", "", "NoExecute"), True),
    ],
)
def test_toleration_matching(toleration, taint, expected):
    verdict = tolerates({"tolerations": [toleration]}, [taint])
    assert verdict.fits is expected
    assert verdict.unknown == ()
    if not expected:
        assert verdict.reasons == (f"taint {taint} is not tolerated",)


def test_prefer_no_schedule_never_blocks_and_no_execute_does():
    assert tolerates({}, [NodeTaint("d", "v", "PreferNoSchedule")]).fits
    assert not tolerates({}, [NodeTaint("d", "v", "NoExecute")]).fits
    assert tolerates({"tolerations": None}, []).fits


def test_taint_description():
    assert str(SMALL_TAINT) == "dedicated=small-worker:NoSchedule"
    assert str(NodeTaint("gpu", "", "NoExecute")) == "gpu:NoExecute"


@pytest.mark.parametrize(
    "toleration",
    [
        {"key": "", "operator": "Equal", "value": "v"},
        {"operator": "Equal"},
        {"key": "d", "operator": "Exists", "value": "v"},
        {"key": "d", "operator": "Matches", "value": "v"},
        {"key": "d", "value": "v", "effect": "NO_SCHEDULE"},
        {"key": "d", "value": 1},
        "d=v:NoSchedule",
    ],
)
def test_invalid_tolerations_tolerate_nothing(toleration):
    verdict = tolerates({"tolerations": [toleration]}, [NodeTaint("d", "v", "NoSchedule")])
    assert not verdict.fits
    assert verdict.unknown


def test_tolerations_not_a_list():
    verdict = tolerates({"tolerations": "dedicated=small-worker"}, [SMALL_TAINT])
    assert not verdict.fits
    assert verdict.unknown
    assert tolerates({"tolerations": "x"}, []).fits


def seed_templates() -> dict[str, dict]:
    if not SEED.exists():
        pytest.skip(f"{SEED} is not present")
    cluster = yaml.safe_load(SEED.read_text())
    return {g["groupName"]: g["template"]["spec"] for g in cluster["spec"]["workerGroupSpecs"]}


def test_seed_small_group_fits_its_own_spot_pool():
    spec = seed_templates()["small-group"]
    assert can_schedule(spec, SMALL_LABELS, [SMALL_TAINT]) == Verdict(True, (), ())


def test_seed_small_group_does_not_fit_medium_pool():
    spec = seed_templates()["small-group"]
    labels = {POOL: "medium-worker", SPOT: "true"}
    verdict = can_schedule(spec, labels, [NodeTaint("dedicated", "medium-worker", "NoSchedule")])
    assert not verdict.fits
    assert verdict.reasons == (
        f"node affinity: key '{POOL}' In ['small-worker'] does not match (node has 'medium-worker')",
        "taint dedicated=medium-worker:NoSchedule is not tolerated",
    )


def test_seed_small_group_does_not_fit_on_demand_pool():
    spec = seed_templates()["small-group"]
    verdict = can_schedule(spec, {POOL: "small-worker"}, [SMALL_TAINT])
    assert not verdict.fits
    assert verdict.reasons == (
        f"node affinity: key '{SPOT}' In ['true'] does not match (label absent)",
    )


def test_describe_labels():
    assert describe_labels({"b": "2", "a": "1"}) == "a=1, b=2"
    assert describe_labels({}) == "(no labels)"


NAMES = st.sampled_from(
    [
        "affinity",
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        "nodeSelectorTerms",
        "matchExpressions",
        "matchFields",
        "key",
        "operator",
        "values",
        "value",
        "effect",
        "nodeSelector",
        "tolerations",
        "In",
        "NotIn",
        "Exists",
        "DoesNotExist",
        "Gt",
        "Lt",
        "Equal",
        "NoSchedule",
        "metadata.name",
        "a",
        "",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | NAMES
    | st.text(max_size=5)
)
TREES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(NAMES | st.text(max_size=3), children, max_size=4)
    ),
    max_leaves=30,
)
SPECS = (
    TREES
    | st.builds(lambda t: terms(*t) if isinstance(t, list) else terms(t), TREES)
    | st.builds(lambda t: {"nodeSelector": t, "tolerations": t}, TREES)
)
TAINTS = st.lists(
    st.builds(
        NodeTaint,
        NAMES,
        NAMES,
        st.sampled_from(["NoSchedule", "NoExecute", "PreferNoSchedule", "x"]),
    )
)


@settings(max_examples=400)
@given(spec=SPECS, labels=st.dictionaries(NAMES, NAMES), taints=TAINTS)
def test_arbitrary_input_never_raises(spec, labels, taints):
    for verdict in (
        can_schedule(spec, labels, taints),
        matches_node_affinity(spec, labels),
        tolerates(spec, taints),
    ):
        assert isinstance(verdict, Verdict)
        assert not (verdict.fits and verdict.reasons)
        assert all(isinstance(s, str) for s in verdict.reasons + verdict.unknown)
