"""Bad specs: one clear message per problem, located at file:line:column and field; exit 2; no
file written."""

from __future__ import annotations

import re

import pytest

import spotray
from spotray.cli import main

from .conftest import EXAMPLES

SEED = (EXAMPLES / "seed.yaml").read_text()


def edited(old: str, new: str, *, count: int = 1) -> str:
    assert SEED.count(old) >= count, old
    return SEED.replace(old, new, count)


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    start = -1
    for _ in range(occurrence):
        start = text.index(needle, start + 1)
    return text[:start].count("\n") + 1


# (id, edited text, expected line needle, field path, message fragment)
CASES = [
    (
        "unknown-key",
        edited('    spot: true\n    cpu: "1"', '    spot: true\n    cpus: 2\n    cpu: "1"'),
        "cpus: 2",
        "workers[0].cpus",
        "unknown field",
    ),
    (
        "wrong-type",
        edited(
            "    min_replicas: 0\n    max_replicas: 1\n    replicas: 0\n  - name: medium",
            "    min_replicas: 0\n    max_replicas: lots\n    replicas: 0\n  - name: medium",
        ),
        "max_replicas: lots",
        "workers[0].max_replicas",
        "valid integer",
    ),
    (
        "negative-count",
        edited("  min_nodes_per_zone: 0", "  min_nodes_per_zone: -1"),
        "min_nodes_per_zone: -1",
        "pool_defaults.min_nodes_per_zone",
        "greater than or equal to 0",
    ),
    (
        "min-greater-than-max-replicas",
        edited(
            "    min_replicas: 0\n    max_replicas: 1\n    replicas: 0\n  - name: medium",
            "    min_replicas: 3\n    max_replicas: 1\n    replicas: 0\n  - name: medium",
        ),
        "- name: small-group",
        "workers[0]",
        "min_replicas (3) is greater than max_replicas (1)",
    ),
    (
        "min-greater-than-max-nodes",
        edited(
            "  min_nodes_per_zone: 0\n  max_nodes_per_zone: 50",
            "  min_nodes_per_zone: 9\n  max_nodes_per_zone: 5",
        ),
        "disk_size_gb: 100",
        "pool_defaults",
        "min_nodes_per_zone (9) is greater than max_nodes_per_zone (5)",
    ),
    (
        "group-name-not-dns-1123",
        edited("- name: small-group", "- name: Small_Group"),
        "name: Small_Group",
        "workers[0].name",
        "not a DNS-1123 label",
    ),
    (
        "cluster-name-not-dns-1123",
        edited("name: ray-cluster", "name: ray.cluster"),
        "name: ray.cluster",
        "name",
        "not a DNS-1123 label",
    ),
    (
        "duplicate-group-name",
        edited("- name: medium-group", "- name: small-group"),
        "name: small-group\n    pool: medium-worker",
        "workers[1].name",
        "duplicate group name 'small-group'",
    ),
    (
        "unknown-machine-type",
        edited("machine_type: e2-standard-2", "machine_type: e2-standard-3"),
        "machine_type: e2-standard-3",
        "workers[0].machine_type",
        "unknown machine type 'e2-standard-3'",
    ),
    (
        "documented-but-unpriced-machine",
        edited("machine_type: e2-standard-2", "machine_type: ct6e-standard-4t"),
        "machine_type: ct6e-standard-4t",
        "workers[0].machine_type",
        "ct6e-standard-4t is known only from Google's documentation",
    ),
    (
        "unknown-gpu",
        edited(
            "machine_type: e2-standard-2",
            "machine_type: n1-standard-4\n    gpu: {type: nvidia-tesla-k9000}",
        ),
        "gpu: {type: nvidia-tesla-k9000}",
        "workers[0].gpu.type",
        "unknown GPU type 'nvidia-tesla-k9000'",
    ),
    (
        "gpu-on-wrong-family",
        edited(
            "machine_type: e2-standard-2",
            "machine_type: e2-standard-2\n    gpu: {type: nvidia-tesla-t4, count: 1}",
        ),
        "gpu: {type: nvidia-tesla-t4",
        "workers[0].gpu.type",
        "nvidia-tesla-t4 attaches only to N1 machine types, not to e2-standard-2",
    ),
    (
        "spot-head",
        edited("  create_pool: false\n", "  create_pool: false\n  spot: true\n"),
        "spot: true",
        "head.spot",
        "the head must not run on Spot",
    ),
    (
        "pod-larger-than-allocatable",
        edited('    cpu: "3"\n    memory: 12G', '    cpu: "3"\n    memory: 14G'),
        "memory: 14G",
        "workers[1].memory",
        "requests memory 14G but one e2-standard-4 node of pool 'medium-worker' has 12918Mi",
    ),
]


@pytest.mark.parametrize(
    ("text", "needle", "field", "fragment"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_bad_spec_is_located_and_nothing_is_written(
    tmp_path, capsys, text, needle, field, fragment
):
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    out = tmp_path / "out"
    code = main(["render", str(spec), "-o", str(out)])
    assert code == 2
    assert not out.exists()
    stderr = capsys.readouterr().err
    line = line_of(text, needle)
    pattern = (
        rf"^error: {re.escape(str(spec))}:{line}:\d+: {re.escape(field)}: .*{re.escape(fragment)}"
    )
    assert re.search(pattern, stderr, re.M), stderr
    # exactly one problem per case
    assert stderr.count("error: ") == 1, stderr


def test_every_problem_is_reported_at_once():
    text = edited("machine_type: e2-standard-2", "machine_type: nope-1")
    text = text.replace("- name: medium-group", "- name: Medium")
    with pytest.raises(spotray.SpecError) as info:
        spotray.load_spec("two.yaml", text=text)
    assert [p.field for p in info.value.problems] == ["workers[1].name"]  # pydantic stage first
    text = edited("machine_type: e2-standard-2", "machine_type: nope-1").replace(
        "machine_type: e2-standard-4\n    spot", "machine_type: nope-2\n    spot"
    )
    with pytest.raises(spotray.SpecError) as info:
        spotray.plan(spotray.load_spec("two.yaml", text=text))
    assert [p.field for p in info.value.problems] == [
        "workers[0].machine_type",
        "workers[1].machine_type",
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("name: [unclosed\n", "bad.yaml:2:1: invalid YAML"),
        ("a: 1\na: 2\n", "bad.yaml:2:1: duplicate key 'a'"),
        ("- just\n- a list\n", "a spec must be a YAML mapping"),
        ("", "expected one YAML document, found 0"),
    ],
)
def test_unreadable_yaml(tmp_path, capsys, text, fragment):
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    assert main(["render", str(spec), "-o", str(tmp_path / "out")]) == 2
    assert fragment in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_missing_file(tmp_path, capsys):
    assert main(["render", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: no such file" in capsys.readouterr().err


def test_missing_required_field_points_at_parent():
    text = SEED.replace("  cluster: my-gke-cluster\n", "")
    with pytest.raises(spotray.SpecError) as info:
        spotray.load_spec("m.yaml", text=text)
    (problem,) = info.value.problems
    assert problem.field == "gke.cluster"
    assert problem.message == "required field is missing"
    assert problem.line == line_of(text, "gke:") + 1  # the mapping that lacks it


def test_image_must_match_ray_version():
    text = SEED.replace("image: rayproject/ray:2.22.0-py311", "image: rayproject/ray:2.9.0-py311")
    with pytest.raises(spotray.SpecError, match=re.escape("image tag '2.9.0-py311' is Ray 2.9.0")):
        spotray.load_spec("v.yaml", text=text)


@pytest.mark.parametrize("cpu", ["1e9999999", "1e999997", "1e30"])
def test_absurd_quantities_are_spec_errors_not_crashes(cpu):
    text = SEED.replace('cpu: "3"', f'cpu: "{cpu}"')
    with pytest.raises(spotray.SpecError):
        spotray.plan(spotray.load_spec("q.yaml", text=text))
