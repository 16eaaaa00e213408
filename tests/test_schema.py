"""spotray's structural-schema validator against jsonschema, on KubeRay's CRD and samples."""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spotray._check._schema import raycluster_schema, validate

from .conftest import DATA, SHARED, shared


def _specs() -> list[dict]:
    out = []
    for path in sorted((SHARED / "kuberay-samples").glob("*.yaml")):  # none: tests skip
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "RayCluster":
                out.append(doc["spec"])
    return out


SPECS = _specs()


def test_packaged_schema_is_derived_from_the_crd():
    from tools.derive_crd_schema import derive

    packaged = json.loads(derive(shared("schemas", "ray.io_rayclusters.yaml")))["schema"]
    assert packaged == raycluster_schema()


def test_packaged_schema_matches_the_test_copy_of_the_crd():
    crd = yaml.load((DATA / "ray.io_rayclusters.yaml").read_text(), Loader=yaml.CSafeLoader)
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    original = v1["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert set(original["properties"]) == set(
        raycluster_schema()["properties"]["spec"]["properties"]
    )


@pytest.mark.skipif(not SPECS, reason="KubeRay samples not present")
def test_every_kuberay_sample_is_valid():
    schema = raycluster_schema()["properties"]["spec"]
    for spec in SPECS:
        assert list(validate(spec, schema)) == []


def _leaves(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    yield path


@pytest.fixture(scope="module")
def oracle(raycluster_validator):
    return raycluster_validator


@pytest.mark.skipif(not SPECS, reason="KubeRay samples not present")
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.data(),
    new=st.one_of(
        st.integers(-(2**31), 2**31 - 1),
        st.text(max_size=8),
        st.booleans(),
        st.lists(st.integers(0, 3), max_size=2),
        st.dictionaries(st.sampled_from(["a", "name", "cpu"]), st.integers(0, 3), max_size=2),
    ),
)
def test_agrees_with_jsonschema_on_mutated_samples(oracle, data, new):
    spec = copy.deepcopy(data.draw(st.sampled_from(SPECS)))
    paths = [p for p in _leaves(spec) if p]
    path = data.draw(st.sampled_from(paths))
    holder = spec
    for part in path[:-1]:
        holder = holder[part]
    holder[path[-1]] = new
    schema = raycluster_schema()["properties"]["spec"]
    ours = {v.path for v in validate(spec, schema) if not v.unknown_field}
    theirs = {
        tuple(e.absolute_path)
        for e in oracle.evolve(schema=oracle.schema["properties"]["spec"]).iter_errors(spec)
        if not _defaulted_required(e)
    }
    assert bool(ours) == bool(theirs), (path, new, ours, theirs)


def _defaulted_required(error) -> bool:
    """jsonschema reports a missing required field that the API server would default."""
    if error.validator != "required":
        return False
    name = error.message.split("'")[1]
    return "default" in error.schema.get("properties", {}).get(name, {})
