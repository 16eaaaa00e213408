"""Property-based tests: random valid specs render valid documents; random input never crashes.

1. Random VALID specs (names, regions, zones, Ray versions, CPU and GPU machine types, Pod sizes
   that fit, replicas, autoscaler options, pool overrides, nasty env and metadata text) must plan
   and render to a RayCluster the KubeRay CRD accepts, HCL that python-hcl2 reads back as the
   document spotray built, with every env and metadata value intact and every group pinned to its
   own pool (and to Spot iff it asked for Spot).
2. Random YAML (text, random structures, mutated examples) given to `load_spec` either loads or
   raises a `SpotrayError`; `SpecError` problems are located in the named file.
"""

from __future__ import annotations

import copy

import hcl2
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spotray
from spotray._check import Documents, Severity, run_checks
from spotray._check._documents import read_yaml
from spotray._check._kuberay import parse_gates
from spotray._plan import ZONES, allocatable, catalog, daemonset_overhead
from spotray._render import terraform_document
from spotray._tfeval import Scope, evaluate

from .conftest import EXAMPLES, raycluster_of
from .test_render import strip_comments

MIB = 1024 * 1024
SPOT_LABEL = "cloud.google.com/gke-spot"
NODEPOOL_LABEL = "cloud.google.com/gke-nodepool"
DRAIN_ENV = "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"
HEAD_POOL = "ray-head"
EXISTING_POOL = "default-pool"

_MACHINES = sorted(  # priced types: spotray renders on no other
    (m for m in catalog().machines.values() if not m.documented_at), key=lambda m: m.name
)
# machines that can host a Pod at all (shared-core e2-micro/small, f1, g1 cannot: their
# allocatable less GKE's DaemonSets is below zero, which the plan refuses with a SpecError)
CPU_MACHINES = [
    m
    for m in _MACHINES
    if not m.bundled_gpus
    and m.series not in ("a2", "g2")
    and (lambda a: a.cpu_millis >= 100 and a.memory_bytes >= 512 * 2**20)(
        allocatable(m.vcpus, m.memory_mib, 0) - daemonset_overhead(workload_identity=True)
    )
]
N1_T4_MACHINES = [m for m in CPU_MACHINES if m.series == "n1" and m.vcpus <= 48]
BUNDLED_GPU_MACHINES = [m for m in _MACHINES if m.bundled_gpus]
CPU_FAMILIES = sorted({m.family for m in CPU_MACHINES})

# ---------------------------------------------------------------------------------------------
# Strategies: valid specs
# ---------------------------------------------------------------------------------------------

CLUSTER_NAME = st.from_regex(r"\A[a-z](?:[-a-z0-9]{0,51}[a-z0-9])?\Z")
GROUP_NAME = st.from_regex(r"\A[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?\Z")
POOL_NAME = st.from_regex(r"\A[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?\Z").filter(
    lambda p: p not in (HEAD_POOL, EXISTING_POOL)
)
ENV_NAME = st.from_regex(r"\A[A-Z_][A-Z0-9_]{0,20}\Z").filter(lambda n: n != DRAIN_ENV)
PARAM_NAME = st.from_regex(r"\A[a-z][-a-z0-9_]{0,20}\Z")
METADATA_KEY = st.from_regex(r"\A[a-zA-Z0-9_-]{1,20}\Z")

# Printable text (no control characters, no lone surrogates), plus fragments that stress the
# YAML and HCL escaping: quotes, backslashes, template sequences, newlines, unicode.
PRINTABLE = st.characters(blacklist_categories=("Cs", "Cc"))
FRAGMENTS = [
    '"',
    "'",
    "\\",
    "\\\\",
    "\\n",
    "${",
    "$${",
    "${var.x}",
    "%{",
    "%%{",
    "%{ if }",
    "{",
    "}",
    "\n",
    "\t",
    " ",
    "ü",
    "日本語",
    "🚀",
    "#",
    ": ",
    "- ",
    "&a",
    "*a",
    "!!str",
    "null",
    "true",
    "0x1F",
    "1e3",
    "~",
]
TEXT = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(PRINTABLE, max_size=6)), max_size=6
).map("".join)


def _close_templates(value: str) -> str:
    r"""`value`, with a `}` appended if a `${` or `%{` has no `}` after it.

    Terraform reads `"$${"` (a literal `${`) but python-hcl2, the test oracle, lexes an escaped
    template sequence only up to a closing `}` (`ESCAPED_INTERPOLATION: /\$\$\{[^}]*\}/`) and
    fails or reads into the next string without one. So HCL-bound text keeps every `${` closed.
    """
    for opener in ("${", "%{"):
        i = value.rfind(opener)
        if i >= 0 and "}" not in value[i + 2 :]:
            return value + "}"
    return value


HCL_TEXT = TEXT.map(_close_templates)


def _available(machine, gpus: int):
    """What one node of `machine` offers Ray Pods (Workload Identity on: the most overhead)."""
    return allocatable(machine.vcpus, machine.memory_mib, gpus) - daemonset_overhead(
        workload_identity=True
    )


@st.composite
def pod_size(draw, machine, gpus: int = 0) -> dict:
    """cpu/memory requests that are a random fraction (5-95%) of one node, rounded down."""
    avail = _available(machine, gpus)
    cpu_pct = draw(st.integers(5, 95))
    mem_pct = draw(st.integers(5, 95))
    cpu = max(avail.cpu_millis * cpu_pct // 100, 1)
    mem = max(avail.memory_bytes * mem_pct // 100 // MIB, 1)
    return {"cpu": f"{cpu}m", "memory": f"{mem}Mi"}


@st.composite
def node_pool_overrides(draw) -> dict:
    out: dict = {}
    if draw(st.booleans()):
        out["disk_size_gb"] = draw(st.integers(10, 500))
    bounds = draw(st.sampled_from(["none", "per-zone", "total"]))
    if bounds == "per-zone":
        high = draw(st.integers(0, 100))
        out["max_nodes_per_zone"] = high
        if draw(st.booleans()):
            out["min_nodes_per_zone"] = draw(st.integers(0, high))
    elif bounds == "total":
        high = draw(st.integers(0, 1000))
        out["total_max_nodes"] = high
        if draw(st.booleans()):
            out["total_min_nodes"] = draw(st.integers(0, high))
    if draw(st.integers(0, 4)) == 0:
        out["metadata"] = draw(st.dictionaries(METADATA_KEY, HCL_TEXT, max_size=3))
    return out


@st.composite
def worker_group(draw, name: str, pool: str, *, priority_ok: bool) -> dict:
    kind = draw(st.sampled_from(["cpu", "cpu", "n1-t4", "bundled"]))
    group: dict = {"name": name, "pool": pool}
    if kind == "cpu":
        family = draw(st.sampled_from(CPU_FAMILIES))
        machine = draw(st.sampled_from([m for m in CPU_MACHINES if m.family == family]))
        node_gpus = 0
    elif kind == "n1-t4":
        machine = draw(st.sampled_from(N1_T4_MACHINES))
        node_gpus = 1
    else:
        machine = draw(st.sampled_from(BUNDLED_GPU_MACHINES))
        node_gpus = machine.bundled_gpus[0][1]
    group["machine_type"] = machine.name
    if kind == "n1-t4":
        group["gpu"] = {"type": "nvidia-tesla-t4", "count": 1}
    group["spot"] = draw(st.booleans())
    group.update(draw(pod_size(machine, node_gpus)))
    if node_gpus:
        gpus = draw(st.integers(0, node_gpus))
        if gpus or draw(st.booleans()):
            group["gpus"] = gpus
    high = draw(st.one_of(st.integers(0, 20), st.integers(0, 2**31 - 1)))
    low = draw(st.integers(0, high))
    group["min_replicas"] = low
    group["max_replicas"] = high
    if draw(st.booleans()):
        group["replicas"] = draw(st.integers(low, high))
    if draw(st.integers(0, 3)) == 0:
        group["idle_timeout_seconds"] = draw(st.integers(0, 2**31 - 1))
    if priority_ok and draw(st.integers(0, 2)) == 0:
        group["priority"] = draw(st.integers(-(2**31), 2**31 - 1))
    if draw(st.booleans()):
        group["ray_start_params"] = draw(st.dictionaries(PARAM_NAME, TEXT, max_size=3))
    if draw(st.booleans()):
        group["env"] = draw(st.dictionaries(ENV_NAME, TEXT, max_size=4))
    overrides = draw(node_pool_overrides())
    if overrides:
        group["node_pool"] = overrides
    return group


@st.composite
def valid_specs(draw) -> dict:
    minor = draw(st.integers(50, 59))
    version = f"2.{minor}.{draw(st.integers(0, 3))}"
    region = draw(st.sampled_from(sorted(ZONES)))
    gcp: dict = {"region": region}
    if draw(st.booleans()):
        gcp["zones"] = draw(st.lists(st.sampled_from(ZONES[region]), min_size=1, unique=True))
    if draw(st.booleans()):
        gcp["project"] = "my-project"

    n = draw(st.integers(1, 6))
    names = draw(st.lists(GROUP_NAME, min_size=n, max_size=n, unique=True))
    pools = draw(st.lists(POOL_NAME, min_size=n, max_size=n, unique=True))
    workers = [
        draw(worker_group(name, pool, priority_ok=minor >= 56))
        for name, pool in zip(names, pools, strict=True)
    ]

    ray: dict = {"version": version}
    if draw(st.booleans()):
        ray["image"] = f"rayproject/ray:{version}-py311"
    if any("priority" in w or "idle_timeout_seconds" in w for w in workers):
        autoscaler: dict | None = {"enabled": True, "version": "v2"}
    else:
        autoscaler = draw(
            st.one_of(
                st.none(),
                st.fixed_dictionaries(
                    {},
                    optional={
                        "enabled": st.booleans(),
                        "version": st.sampled_from(["v1", "v2"]),
                    },
                ),
            )
        )
    if autoscaler is not None:
        if draw(st.booleans()):
            autoscaler["idle_timeout_seconds"] = draw(st.integers(0, 3600))
        ray["autoscaler"] = autoscaler

    head_machine = draw(st.sampled_from(CPU_MACHINES))
    head: dict = {"machine_type": head_machine.name, **draw(pod_size(head_machine))}
    head_pool = draw(st.sampled_from(["omit", HEAD_POOL, EXISTING_POOL]))
    if head_pool == HEAD_POOL:
        head["pool"] = HEAD_POOL
    elif head_pool == EXISTING_POOL:
        head.update(pool=EXISTING_POOL, create_pool=False)
    if draw(st.booleans()):
        head["ray_start_params"] = {"num-cpus": "0"}
    if draw(st.booleans()):
        head["env"] = draw(st.dictionaries(ENV_NAME, TEXT, max_size=3))

    spec: dict = {
        "name": draw(CLUSTER_NAME),
        "gcp": gcp,
        "gke": {
            "cluster": draw(
                st.sampled_from(["my-gke-cluster", "${google_container_cluster.main.name}"])
            ),
            "provider": draw(st.sampled_from(["google", "google-beta"])),
        },
        "ray": ray,
        "head": head,
        "workers": workers,
    }
    if draw(st.booleans()):
        node = draw(st.sampled_from([30, 120]))
        critical = draw(st.integers(0, node - 2))
        teardown = draw(st.integers(1, node - critical - 1))
        spec["spot_shutdown"] = {
            "node_grace_period_seconds": node,
            "critical_pods_seconds": critical,
            "teardown_seconds": teardown,
        }
    security = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "token_auth": st.just(minor >= 52) | st.just(False),
                "security_context": st.booleans(),
                "create_service_account": st.booleans(),
                "image_digest": st.just("sha256:" + "ab" * 32),
                "network_policy": st.fixed_dictionaries(
                    {"mode": st.sampled_from(["plain", "kuberay", "none"])},
                    optional={
                        "clients": st.lists(
                            st.fixed_dictionaries(
                                {"namespace": st.sampled_from(["ray", "jobs"])},
                                optional={"pod_labels": st.just({"app": "submitter"})},
                            ),
                            max_size=2,
                        ),
                        "operator_namespace": st.just("kuberay-system"),
                    },
                ),
            },
        )
    )
    if security:
        spec["security"] = security
    defaults: dict = {}
    if draw(st.booleans()):
        defaults["metadata"] = draw(st.dictionaries(METADATA_KEY, HCL_TEXT, max_size=4))
    if draw(st.booleans()):
        defaults["disk_size_gb"] = draw(st.integers(10, 500))
    if defaults:
        spec["pool_defaults"] = defaults
    return spec


def _expected_metadata(spec: dict, group: dict) -> dict:
    own = group.get("node_pool", {})
    if "metadata" in own:
        return own["metadata"]
    return spec.get("pool_defaults", {}).get("metadata", {"disable-legacy-endpoints": "true"})


def _match_expressions(pod: dict) -> dict:
    (term,) = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    return {e["key"]: e for e in term["matchExpressions"]}


class _Validator:
    """The session's CRD validator, with a short repr for Hypothesis' falsifying examples."""

    def __init__(self, validator) -> None:
        self.validator = validator

    def __repr__(self) -> str:
        return "<KubeRay RayCluster CRD validator>"


@pytest.fixture(scope="session")
def crd(raycluster_validator) -> _Validator:
    return _Validator(raycluster_validator)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(spec_dict=valid_specs(), allow_unicode=st.booleans())
def test_random_valid_specs_render_valid_documents(spec_dict, allow_unicode, crd):
    text = yaml.safe_dump(spec_dict, sort_keys=False, allow_unicode=allow_unicode)
    spec = spotray.load_spec("random.yaml", text=text)
    plan = spotray.plan(spec)
    rendered = spotray.render(plan)

    # (a) the RayCluster is valid for the KubeRay CRD
    cluster = raycluster_of(rendered.raycluster)
    errors = sorted(crd.validator.iter_errors(cluster), key=str)
    assert not errors, [e.message for e in errors]

    # (a') ... and `spotray check` raises no KubeRay-parity (SR1xx) error on what was rendered
    docs = Documents()
    read_yaml(rendered.raycluster, "raycluster.yaml", docs)
    sr1 = [f for f in run_checks(docs, select=["SR1"]) if f.severity is Severity.ERROR]
    if plan.security.network_policy == "kuberay":
        # KubeRay's own NetworkPolicy needs its Alpha gate (issue 12): an error naming it,
        # and nothing else, until the operator has it on
        assert [f.code for f in sr1] == ["SR118"] and "RayClusterNetworkPolicy" in sr1[0].message
        docs.gates = parse_gates("RayClusterNetworkPolicy=true")
        sr1 = [f for f in run_checks(docs, select=["SR1"]) if f.severity is Severity.ERROR]
    assert not sr1, [str(f) for f in sr1]

    # (b) the HCL reads back as the document spotray built
    parsed = hcl2.loads(rendered.terraform)
    assert strip_comments(parsed) == terraform_document(plan)

    # (c) env values survive the YAML exactly ...
    head_pool = spec_dict["head"].get("pool", HEAD_POOL)
    groups = [("head", spec_dict["head"], cluster["spec"]["headGroupSpec"])]
    by_name = {g["groupName"]: g for g in cluster["spec"]["workerGroupSpecs"]}
    assert list(by_name) == [w["name"] for w in spec_dict["workers"]]
    groups += [(w["name"], w, by_name[w["name"]]) for w in spec_dict["workers"]]
    for name, group, rendered_group in groups:
        (container,) = rendered_group["template"]["spec"]["containers"]
        env_list = container.get("env", [])
        env = {e["name"]: e["value"] for e in env_list}
        assert len(env) == len(env_list), f"{name}: duplicate env names"
        expected = dict(group.get("env", {}))
        if name != "head":
            expected[DRAIN_ENV] = str(plan.shutdown.drain_timeout_seconds)
        assert env == expected, name
        assert rendered_group["rayStartParams"] == group.get("ray_start_params", {}), name

    # (d) every group is pinned to its own pool, and to Spot iff it is a Spot group
    head_exprs = _match_expressions(cluster["spec"]["headGroupSpec"]["template"]["spec"])
    assert head_exprs[NODEPOOL_LABEL] == {
        "key": NODEPOOL_LABEL,
        "operator": "In",
        "values": [head_pool],
    }
    assert head_exprs[SPOT_LABEL] == {"key": SPOT_LABEL, "operator": "DoesNotExist"}
    for worker in spec_dict["workers"]:
        exprs = _match_expressions(by_name[worker["name"]]["template"]["spec"])
        assert exprs[NODEPOOL_LABEL] == {
            "key": NODEPOOL_LABEL,
            "operator": "In",
            "values": [worker["pool"]],
        }
        if worker["spot"]:
            assert exprs[SPOT_LABEL] == {"key": SPOT_LABEL, "operator": "In", "values": ["true"]}
        else:
            assert exprs[SPOT_LABEL] == {"key": SPOT_LABEL, "operator": "DoesNotExist"}

    # (c) ... and metadata values survive the HCL exactly (checked last, so a
    # failure here does not hide the checks above)
    metadata = {}
    for item in parsed["resource"]:
        for body in item.get('"google_container_node_pool"', {}).values():
            pool = evaluate(body["name"], Scope())
            metadata[pool] = evaluate(body["node_config"][0].get("metadata", {}), Scope())
    expected_metadata = {w["pool"]: _expected_metadata(spec_dict, w) for w in spec_dict["workers"]}
    if spec_dict["head"].get("create_pool", True):
        expected_metadata[head_pool] = _expected_metadata(spec_dict, spec_dict["head"])
    assert metadata == expected_metadata


# ---------------------------------------------------------------------------------------------
# Strategies: random and mutated YAML
# ---------------------------------------------------------------------------------------------

SEED_TEXT = (EXAMPLES / "seed.yaml").read_text()
BASE_DICTS = [
    yaml.safe_load(SEED_TEXT),
    yaml.safe_load((EXAMPLES / "recommended.yaml").read_text()),
]
# Values a careless (or hostile) spec author might write where something else belongs.
JUNK_VALUES = [
    None,
    True,
    False,
    0,
    -1,
    1,
    10**30,
    -(10**30),
    0.5,
    1e-300,
    1e300,
    float("inf"),
    float("nan"),
    "",
    " ",
    "0",
    "-1",
    "1n",
    "0.0001m",
    "1e-400",
    "1e999999",
    "1e9999999",
    "1E",
    "1Ei",
    "12Gi",
    "500m",
    "NaN",
    ".inf",
    "${x}",
    "${",
    "e2-standard-999",
    "nvidia-tesla-t4",
    "us-central1-z",
    "v3",
    "2.56.0",
    "ray-head",
    "UPPER",
    "a" * 70,
    [],
    {},
    [None],
    {"": None},
    {"type": "nvidia-l4", "count": 3},
    "2020-01-01",
]
JUNK_TEXT = [
    "",
    "~",
    "null",
    "[",
    "{",
    "]",
    ": :",
    "&a",
    "*a",
    "*missing",
    "!!python/object:os.system",
    "!!binary AAAA",
    "!!set {a}",
    "<<: *a",
    "'unterminated",
    '"\\x"',
    "- - -",
    "? complex",
    "2001-12-14t21:59:43.10-05:00",
    "1e9999999",
    "1e999999",
    "0o777",
    "0x_1",
    ".nan",
    "-.inf",
    "\t",
    "%YAML 1.1",
    "---",
    "...",
]

# Kubernetes quantities, well- and ill-formed: tiny, huge, exponents, signs, every suffix.
QUANTITY_EDGES = ["0", "-1", "1n", "1e-400", "1e999996", "1e999999", "1e9999999", "1Ei", "1E", ".5"]
QUANTITIES = st.one_of(
    st.sampled_from(QUANTITY_EDGES),
    st.from_regex(
        r"\A[+-]?(?:\d{1,4}(?:\.\d{0,3})?|\.\d{1,3})"
        r"(?:[eE][+-]?\d{1,8}|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?\Z"
    ),
    st.integers(-(10**20), 10**20),
    st.floats(),
)
QUANTITY_FIELDS = (
    "cpu",
    "memory",
    "cpu_limit",
    "memory_limit",
    "daemonset_cpu",
    "daemonset_memory",
)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(JUNK_VALUES).map(copy.deepcopy),  # fresh: mutations must not alias
    QUANTITIES,
)
STRUCTURES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated_seed_text(draw) -> str:
    lines = SEED_TEXT.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "replace", "indent"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "replace":
            junk = draw(st.one_of(st.sampled_from(JUNK_TEXT), st.text(max_size=12)))
            line = lines[i].rstrip("\n")
            head, sep, _ = line.partition(": ")
            if not sep:
                head, sep, _ = line.partition("- ")
            lines[i] = (head + sep if sep else "") + junk + "\n"
        else:
            stripped = lines[i].lstrip(" ")
            indent = len(lines[i]) - len(stripped)
            new = draw(st.integers(0, 12).filter(lambda n, indent=indent: n != indent))
            lines[i] = draw(st.sampled_from([" ", "\t"])) * new + stripped
    return "".join(lines)


def _paths(value, prefix=()):
    """Every (path, is_mapping_key) under `value`."""
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((*prefix, k))
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((*prefix, i))
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated_seed_dict(draw) -> str:
    data = copy.deepcopy(draw(st.sampled_from(BASE_DICTS)))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        op = draw(st.sampled_from(["set", "set", "delete", "add", "quantity"]))
        if op == "quantity":  # a quantity field (present or not) of a group or of `gke`
            workers = data.get("workers")
            groups = [data.get("gke"), data.get("head")]
            groups += workers if isinstance(workers, list) else []
            group = draw(st.sampled_from(groups))
            if isinstance(group, dict):
                group[draw(st.sampled_from(QUANTITY_FIELDS))] = draw(QUANTITIES)
        elif op == "set":
            parent[path[-1]] = draw(STRUCTURES)
        elif op == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(STRUCTURES)
        else:
            parent.append(draw(STRUCTURES))
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=draw(st.booleans()))


FUZZ_DOCUMENTS = st.one_of(
    st.text(),
    STRUCTURES.map(yaml.safe_dump),
    mutated_seed_text(),
    mutated_seed_dict(),
)


def _check_spec_error(exc: spotray.SpecError) -> None:
    assert exc.problems
    for problem in exc.problems:
        assert problem.file == "fuzz.yaml", problem
        assert problem.message, problem
        assert str(problem).startswith("fuzz.yaml"), str(problem)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=FUZZ_DOCUMENTS)
def test_load_spec_fuzz_only_raises_spotray_errors(text):
    try:
        spec = spotray.load_spec("fuzz.yaml", text=text)
    except spotray.SpecError as exc:
        _check_spec_error(exc)
        return
    except spotray.SpotrayError:
        return
    assert isinstance(spec, spotray.Spec)
    try:
        plan = spotray.plan(spec)
    except spotray.SpecError as exc:
        _check_spec_error(exc)
        return
    except spotray.SpotrayError:
        return
    assert isinstance(plan, spotray.Plan)
    assert isinstance(spotray.render(plan), spotray.Rendered)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec_dict=valid_specs(),
    max_pods=st.integers(8, 110),
    daemonset_cpu=st.one_of(st.none(), st.integers(100, 900)),
)
def test_explain_and_check_spec_agree_on_packing(spec_dict, max_pods, daemonset_cpu):
    """One home for derived numbers (issue 10): for random specs, what `explain` shows (the
    plan) and what `check --spec` computes from the rendered documents agree on Pods per node,
    the idle share and the Pod size that would fill a node; SR304 fires exactly where the plan
    leaves more than 25% idle, suggesting the plan's Pod size."""
    from hypothesis import assume

    from spotray._check import spec_documents
    from spotray._check._context import Context, ray_container, requests_of
    from spotray._plan import packing

    gke = {**spec_dict.get("gke", {}), "max_pods_per_node": max_pods}
    if daemonset_cpu is not None:
        gke["daemonset_cpu"] = f"{daemonset_cpu}m"
    spec_dict = {**spec_dict, "gke": gke}
    try:
        spec = spotray.load_spec("random.yaml", text=yaml.safe_dump(spec_dict, sort_keys=False))
        plan, docs = spec_documents(spec)
    except spotray.SpecError:
        assume(False)  # the drawn Pods no longer fit next to the larger DaemonSets
        return
    ctx = Context(docs)
    (cluster,) = docs.clusters
    groups = {name: (group, path) for name, group, path in cluster.groups()}
    idle = set()
    for g in plan.groups:
        group, path = groups["head" if g.is_head else g.name]
        (pool,) = [p for p in ctx.placement(cluster, group, path).pools if p.name == g.pool.name]
        _, container = ray_container(group)
        packed = packing(pool.available, requests_of(container), pool.pods_limit)
        assert packed.pods == g.pods_per_node
        assert packed.limited_by == g.limited_by
        assert packed.idle == pytest.approx(g.packing.idle)
        assert packed.fill == g.filling_pod()
        name = "head" if g.is_head else g.name
        if g.pods_per_node and g.packing.idle > 0.25:
            idle.add((name, g.filling_pod()))
        elif g.pods_per_node and g.packing.gpus_idle > 0.25:
            idle.add((name, "GPUs idle"))
    reported = set()
    for f in run_checks(docs, select=["SR304"]):
        name = f.message.split("group ", 1)[1].split("'")[1]
        if "a Pod of cpu " not in f.message:
            reported.add((name, "GPUs idle" if "stay idle" in f.message else f.message))
            continue
        cpu, mem = f.message.rsplit("a Pod of cpu ", 1)[1].split(" would")[0].split(", memory ")
        reported.add((name, (cpu, mem)))
    assert reported == idle
