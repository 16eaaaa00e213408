"""Shared fixtures: paths, the KubeRay CRD schema validator, rendering helpers."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

import spotray

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
EXAMPLES = ROOT / "examples"
DATA = Path(__file__).resolve().parent / "data"


def wait_until(predicate, timeout: float, what: str, every: float = 0.1):
    """Poll `predicate` until it returns something true (returned), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def driver(cluster, argv: list[str], env: dict | None = None) -> subprocess.Popen:
    """A Ray driver process for a local cluster (its env: token, address), output captured."""
    return subprocess.Popen(
        argv,
        env={**os.environ, **cluster.env, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def last_json(proc: subprocess.Popen, timeout: float = 300) -> dict:
    """The last JSON line a driver printed, once it has ended."""
    out, _ = proc.communicate(timeout=timeout)
    found = [line for line in out.splitlines() if line.startswith("{")]
    assert found, out[-3000:]
    return json.loads(found[-1])


def shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not present")
    return path


@pytest.fixture(scope="session")
def raycluster_validator():
    """A jsonschema validator for the KubeRay v1 RayCluster CRD (tests/data copy)."""
    import jsonschema

    crd = yaml.load((DATA / "ray.io_rayclusters.yaml").read_text(), Loader=yaml.CSafeLoader)
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = v1["schema"]["openAPIV3Schema"]
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return cls(schema)


@pytest.fixture(scope="module")
def local_state_dir(tmp_path_factory):
    """A state directory of its own for a module's local clusters (SPOTRAY_STATE_DIR)."""
    old = os.environ.get("SPOTRAY_STATE_DIR")
    os.environ["SPOTRAY_STATE_DIR"] = str(tmp_path_factory.mktemp("spotray-state"))
    yield
    if old is None:
        os.environ.pop("SPOTRAY_STATE_DIR", None)
    else:
        os.environ["SPOTRAY_STATE_DIR"] = old


def raycluster_of(text: str) -> dict:
    """The RayCluster of a (multi-document) manifest, such as a rendered raycluster.yaml."""
    (cluster,) = [d for d in yaml.safe_load_all(text) if d and d.get("kind") == "RayCluster"]
    return cluster


def render_example(name: str) -> spotray.Rendered:
    return spotray.render(spotray.load_spec(EXAMPLES / name))


def spec_text(**overrides: str) -> str:
    """The seed example's text, for tests that edit it."""
    return (EXAMPLES / "seed.yaml").read_text()


def sim_group(**changes):
    """A simulated worker group (spotray._sim's GroupSim): one slot, one Pod per VM, Spot."""
    from spotray._sim._engine import GroupSim

    base = dict(
        name="g",
        spot=True,
        pods_per_node=1,
        machine_type="n2-standard-2",
        slots=1,
        min_pods=0,
        max_pods=50,
        priority=0,
        idle_seconds=60.0,
        usd_per_node_hour=0.03,
        usd_per_node_hour_on_demand=0.1,
    )
    return GroupSim(**{**base, **changes})


def seed_with_an_l4_group() -> str:
    """The seed example with its medium group on g2-standard-8 with one L4 GPU."""
    return (
        (EXAMPLES / "seed.yaml")
        .read_text()
        .replace(
            'machine_type: e2-standard-4\n    spot: true\n    cpu: "3"',
            'machine_type: g2-standard-8\n    gpus: 1\n    spot: true\n    cpu: "3"',
        )
    )
