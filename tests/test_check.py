"""`spotray check`: the seed's known faults exactly, clean output for what spotray renders, a
bad case per implemented rule, KubeRay's own samples without a crash, SARIF, bad input → exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import spotray
from spotray._check import (
    RULES,
    Documents,
    Severity,
    check_spec,
    parse_pool_flag,
    read_paths,
    run_checks,
)
from spotray._check._documents import read_yaml
from spotray._check._terraform import read_terraform
from spotray.cli import main

from .conftest import DATA, EXAMPLES, SHARED, raycluster_of, shared

SEED_CLUSTER = "seed/ray-cluster.yaml"
SEED_POOLS = "seed/nodepool.tf"


def codes(findings, *, at_least=spotray._check.Severity.INFO):
    return sorted((f.code, f.line) for f in findings if f.severity >= at_least)


def test_seed_files_yield_exactly_the_known_faults():
    docs = read_paths([str(shared(*SEED_CLUSTER.split("/"))), str(shared(*SEED_POOLS.split("/")))])
    everything = run_checks(docs)
    findings = [f for f in everything if not f.code.startswith("SR7")]
    serious = [f for f in findings if f.severity >= Severity.WARNING]
    assert [(f.code, f.line) for f in serious] == [
        ("SR601", 10),  # node_locations = "us-central1" (medium-worker)
        ("SR601", 10),  # ... and small-worker
        # no SR202: the head's placement is elided, but both pools are tainted, so it cannot
        # land on them (issue 10: SR202 speaks only when the head can reach Spot)
        ("SR501", 35),  # preStop ray stop, small-group
        ("SR304", 42),  # small-group packing, with a suggested size
        ("SR501", 77),  # preStop ray stop, medium-group
    ]
    notes = [(f.code, f.line) for f in findings if f.severity == Severity.INFO]
    assert notes == [
        ("SR506", 8),  # Spot workers, head without GCS fault tolerance
        ("SR403", 11),  # small-group: Spot only, no on-demand fallback
        ("SR403", 53),  # medium-group: the same
    ]
    packing = next(f for f in findings if f.code == "SR304")
    assert "a Pod of cpu 1610m, memory 5632Mi would fill it" in packing.message
    # and the security review (SR7xx) of the article's files
    security = [(f.code, f.line) for f in everything if f.code.startswith("SR7")]
    assert security == [
        ("SR707", 26),  # no Secure Boot (medium-worker)
        ("SR707", 26),  # ... and small-worker
        ("SR704", 6),  # no NetworkPolicy
        ("SR701", 6),  # the autoscaler sidecar: no securityContext
        ("SR703", 9),  # Ray 2.22 has no token auth (a note: upgrading is the fix)
        ("SR705", 18),  # small-group: default service account, token mounted
        ("SR705", 18),
        ("SR701", 32),  # small-group's container: no securityContext
        ("SR706", 32),  # image by tag
        ("SR705", 60),  # medium-group: the same
        ("SR705", 60),
        ("SR701", 74),
        ("SR706", 74),
    ]


def test_recommended_renders_clean():
    findings = check_spec(spotray.load_spec(EXAMPLES / "recommended.yaml"))
    # no error, no warning; notes: the head has no GCS fault tolerance (needs Redis), and the
    # image is not pinned by digest (the example cannot know one)
    assert [(f.code, f.severity) for f in findings] == [("SR506", Severity.INFO)] + [
        ("SR706", Severity.INFO)
    ] * 3


def test_seed_spec_renders_only_the_packing_warning():
    findings = check_spec(spotray.load_spec(EXAMPLES / "seed.yaml"))
    serious = [f.code for f in findings if f.severity >= Severity.WARNING]
    assert serious == ["SR304"]  # the article's 1-CPU Pods, kept on purpose


def _check_texts(cluster: str, terraform: str | None = None):
    docs = Documents()
    read_yaml(cluster, "c.yaml", docs)
    if terraform is not None:
        read_terraform(terraform, "p.tf", docs)
    return run_checks(docs)


@pytest.fixture(scope="module")
def rendered_seed():
    rendered = spotray.render(spotray.load_spec(EXAMPLES / "seed.yaml"))
    return rendered.raycluster, rendered.terraform


def test_sr201_group_lands_nowhere(rendered_seed):
    cluster, tf = rendered_seed
    cluster = cluster.replace("- small-worker\n", "- small-workers\n")
    assert "SR201" in {f.code for f in _check_texts(cluster, tf)}


def test_sr202_head_on_spot(rendered_seed):
    cluster, tf = rendered_seed
    doc = raycluster_of(cluster)
    head = doc["spec"]["headGroupSpec"]["template"]["spec"]
    head["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ][0]["matchExpressions"] = [{"key": "cloud.google.com/gke-nodepool", "operator": "Exists"}]
    head["tolerations"] = [{"operator": "Exists"}]
    found = _check_texts(yaml.safe_dump(doc), tf)
    assert any(f.code == "SR202" and "can land on Spot pool(s)" in f.message for f in found)


def test_sr203_spot_group_can_land_on_on_demand(rendered_seed):
    cluster, tf = rendered_seed
    doc = raycluster_of(cluster)
    pod = doc["spec"]["workerGroupSpecs"][0]["template"]["spec"]
    del pod["affinity"]
    pod["tolerations"] = [{"operator": "Exists"}]
    tf = tf.replace("spot         = true", "spot         = false", 1)
    found = {f.code for f in _check_texts(yaml.safe_dump(doc), tf)}
    assert {"SR203", "SR204"} <= found


def test_sr301_pod_fits_no_node(rendered_seed):
    cluster, tf = rendered_seed
    found = _check_texts(cluster.replace("memory: 12G", "memory: 14G"), tf)
    assert any(f.code == "SR301" and "medium-group" in f.message for f in found)


def test_sr302_gpu_request_on_cpu_pool(rendered_seed):
    cluster, tf = rendered_seed
    doc = raycluster_of(cluster)
    res = doc["spec"]["workerGroupSpecs"][1]["template"]["spec"]["containers"][0]["resources"]
    res["limits"]["nvidia.com/gpu"] = res["requests"]["nvidia.com/gpu"] = 1
    assert "SR302" in {f.code for f in _check_texts(yaml.safe_dump(doc), tf)}


def test_sr303_limits_below_requests(rendered_seed):
    cluster, tf = rendered_seed
    doc = raycluster_of(cluster)
    doc["spec"]["workerGroupSpecs"][1]["template"]["spec"]["containers"][0]["resources"]["limits"][
        "cpu"
    ] = "2"
    assert "SR303" in {f.code for f in _check_texts(yaml.safe_dump(doc), tf)}


def test_sr502_sr503_shutdown_window(rendered_seed):
    cluster, tf = rendered_seed
    doc = raycluster_of(cluster)
    doc["spec"]["rayVersion"] = "2.60.0"
    for group in (doc["spec"]["headGroupSpec"], *doc["spec"]["workerGroupSpecs"]):
        group["template"]["spec"]["containers"][0]["image"] = "rayproject/ray:2.60.0"
    pod = doc["spec"]["workerGroupSpecs"][0]["template"]["spec"]
    pod["terminationGracePeriodSeconds"] = 60
    pod["containers"][0]["env"] = []
    found = {f.code for f in _check_texts(yaml.safe_dump(doc), tf)}
    assert {"SR502", "SR503"} <= found


def test_sr505_image_version_mismatch(rendered_seed):
    cluster, tf = rendered_seed
    found = _check_texts(cluster.replace("rayVersion: 2.22.0", "rayVersion: 2.60.0"), tf)
    assert "SR505" in {f.code for f in found}


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        ('effect = "NO_SCHEDULE"', 'effect = "NoSchedule"', "SR602"),
        ('location_policy = "ANY"', 'location_policy = "ANYWHERE"', "SR603"),
        ("max_node_count  = 50", "max_node_count  = 50\n    total_max_node_count = 9", "SR603"),
        ("disk_size_gb = 100", "disk_size_gb = 8", "SR605"),
        ('"us-central1-f",', '"us-east1-b",', "SR601"),
    ],
)
def test_terraform_rules(rendered_seed, old, new, code):
    cluster, tf = rendered_seed
    assert old in tf
    assert code in {f.code for f in _check_texts(cluster, tf.replace(old, new, 1))}


def test_sr604_accelerator_on_wrong_family(rendered_seed):
    cluster, tf = rendered_seed
    bad = tf.replace(
        "    oauth_scopes",
        '    guest_accelerator {\n      type  = "nvidia-tesla-t4"\n      count = 1\n    }\n    oauth_scopes',
        1,
    )
    assert "SR604" in {f.code for f in _check_texts(cluster, bad)}


def test_sr606_untainted_spot_pool(rendered_seed):
    cluster, tf = rendered_seed
    start = tf.index("    taint {")
    end = tf.index("}\n", start) + 2
    assert "SR606" in {f.code for f in _check_texts(cluster, tf[:start] + tf[end:])}


def test_sr001_without_pools_says_what_was_not_checked(rendered_seed):
    cluster, _ = rendered_seed
    found = [f.code for f in _check_texts(cluster)]
    # the pool rules are skipped; what is left is SR001 and the security notes (Ray 2.22 has
    # no token auth, images by tag), which do not depend on the pools
    assert [c for c in found if not c.startswith("SR7")] == ["SR001"]
    assert set(found) - {"SR001"} == {"SR703", "SR706"}


def kuberay_samples():
    folder = SHARED / "kuberay-samples"
    return sorted(folder.glob("*.yaml")) if folder.exists() else []


@pytest.mark.parametrize("sample", kuberay_samples(), ids=lambda p: p.name)
def test_kuberay_samples_check_without_crash_or_parity_error(sample):
    docs = read_paths([str(sample)])
    if sample.name in GATED_SAMPLES:  # an Alpha feature's sample: valid with its gate on
        from spotray._check._kuberay import parse_gates

        docs.gates = parse_gates(f"{GATED_SAMPLES[sample.name]}=true")
    findings = run_checks(docs)
    parity = [f for f in findings if f.code.startswith("SR1")]
    assert not [f for f in parity if f.severity >= Severity.WARNING], parity
    assert all(f.code in RULES for f in findings)


def test_sarif_validates_against_the_schema(tmp_path, capsys):
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = DATA / "sarif-2.1.0.schema.json"
    if not schema_path.exists():
        pytest.skip("no SARIF schema")
    code = main(
        [
            "check",
            str(shared("seed", "ray-cluster.yaml")),
            str(shared("seed", "nodepool.tf")),
            "--output-format",
            "sarif",
        ]
    )
    assert code == 1
    log = json.loads(capsys.readouterr().out)
    jsonschema.validate(log, json.loads(schema_path.read_text()))
    results = log["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {
        *("SR601", "SR501", "SR304", "SR403", "SR506"),
        *("SR701", "SR703", "SR704", "SR705", "SR706", "SR707"),
    }
    assert all(r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results)


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("bad.yaml", "kind: [oops", "invalid YAML"),
        ("bad.tf", 'resource "x" {', "invalid HCL"),
        ("pod.yaml", "kind: Pod\n", "a document without `kind` or `apiVersion`"),
        ("ray.yaml", "kind: RayThing\napiVersion: ray.io/v1\n", "unknown kind 'RayThing'"),
    ],
)
def test_bad_input_exits_2(tmp_path, capsys, name, text, fragment):
    path = tmp_path / name
    path.write_text(text)
    assert main(["check", str(path)]) == 2
    assert fragment in capsys.readouterr().err


def test_missing_file_exits_2(capsys):
    assert main(["check", "/nonexistent/x.yaml"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_fail_on_and_select(capsys):
    seed = [str(shared("seed", "ray-cluster.yaml")), str(shared("seed", "nodepool.tf"))]
    assert main(["check", *seed, "--select", "SR5"]) == 0  # only warnings
    assert main(["check", *seed, "--select", "SR5", "--fail-on", "warning"]) == 1
    assert main(["check", *seed, "--ignore", "SR"]) == 0
    capsys.readouterr()


def test_every_rule_is_documented():
    for code, rule in RULES.items():
        assert code.startswith("SR") and len(code) == 5
        assert rule.fix and rule.name
        assert main(["rule", code]) == 0


def test_pool_flag(capsys):
    cluster = str(shared("seed", "ray-cluster.yaml"))
    flag = (
        "name=small-worker,machine=e2-standard-2,spot=true,taint=dedicated=small-worker:NoSchedule"
    )
    assert main(["check", cluster, "--pool", flag, "--output-format", "json"]) == 1
    found = {f["code"] for f in json.loads(capsys.readouterr().out)}
    assert "SR304" in found and "SR201" in found  # medium-group matches no given pool


def test_check_spec_cli(capsys):
    spec = str(EXAMPLES / "recommended.yaml")
    assert main(["check", "--spec", spec, "--fail-on", "warning"]) == 0
    assert "4 finding(s): 0 error, 0 warning, 4 info" in capsys.readouterr().out
    assert main(["check", "--spec", spec, "--fail-on", "info"]) == 1
    # comma-separated lists and repeated flags, as ruff takes them
    assert main(["check", "--spec", spec, "--fail-on", "info", "--ignore", "SR506,SR706"]) == 0
    assert (
        main(
            ["check", "--spec", spec, "--fail-on", "info", "--ignore", "SR506", "--ignore", "SR706"]
        )
        == 0
    )
    assert main(["check", "--spec", spec, "--fail-on", "info", "--select", "SR5,SR7"]) == 1
    capsys.readouterr()
    # a code that names no rule is bad input, not a check of nothing
    assert main(["check", "--spec", spec, "--select", "SR9"]) == 2
    assert main(["check", "--spec", spec, "--ignore", "SR202,E501"]) == 2
    assert "'E501': no rule code starts with it" in capsys.readouterr().err


_ = Path


@settings(max_examples=150, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=12), inner, max_size=4)
            ),
            max_leaves=30,
        ).map(
            lambda d: yaml.safe_dump({"apiVersion": "ray.io/v1", "kind": "RayCluster", "spec": d})
        ),
    ),
    suffix=st.sampled_from([".yaml", ".tf"]),
)
def test_fuzz_check_never_crashes(tmp_path_factory, text, suffix):
    path = tmp_path_factory.mktemp("fuzz") / f"input{suffix}"
    path.write_text(text)
    try:
        docs = read_paths([str(path)])
    except spotray.SpotrayError:
        return
    for finding in run_checks(docs):
        assert finding.code in RULES


POOL_FILE = """\
nodePools:
- name: small-worker
  machine: e2-standard-2
  spot: true
  taints: ["dedicated=small-worker:NoSchedule"]
  zones: [us-central1-a, us-central1-b]
  max_nodes: 4
"""


def test_pool_file_describes_pools_like_the_flag():
    docs = Documents()
    read_yaml(POOL_FILE, "pools.yaml", docs)
    (pool,) = docs.pools
    flag = spotray._check.parse_pool_flag(
        "name=small-worker,machine=e2-standard-2,spot=true,"
        "taint=dedicated=small-worker:NoSchedule,zones=us-central1-a;us-central1-b,max_nodes=4"
    )
    assert (pool.name, pool.machine_type, pool.spot, pool.taints, pool.zones) == (
        flag.name,
        flag.machine_type,
        flag.spot,
        flag.taints,
        flag.zones,
    )
    assert pool.max_nodes == flag.max_nodes == 4 and pool.region == "us-central1"
    assert (pool.file, pool.line) == ("pools.yaml", 2)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("spot: true", "spot: maybe"), "nodePools[0]: spot: must be true or false"),
        (("max_nodes: 4", "max_nodes: four"), "nodePools[0]: max_nodes: 'four' is not a whole"),
        (("max_nodes: 4", "maxnodes: 4"), "nodePools[0]: maxnodes: unknown key"),
        (
            ("NoSchedule", "NO_SCHEDULE"),
            "nodePools[0]: taint: 'dedicated=small-worker:NO_SCHEDULE'",
        ),
    ],
)
def test_bad_pool_file_is_input_error_with_line_and_field(
    tmp_path, capsys, monkeypatch, edit, message
):
    (tmp_path / "pools.yaml").write_text(POOL_FILE.replace(*edit))
    cluster = shared("seed", "ray-cluster.yaml")
    monkeypatch.chdir(tmp_path)
    assert main(["check", str(cluster), "pools.yaml"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_an_unknown_machine_type_is_one_warning_in_every_input_path(tmp_path, capsys):
    """Pool file, --pool and Terraform alike: SR004 once, the fit rules skip the pool, exit 1
    only through --fail-on warning, never 2 (bad input)."""
    cluster = str(shared("seed", "ray-cluster.yaml"))
    (tmp_path / "pools.yaml").write_text(POOL_FILE.replace("e2-standard-2", "e2-standard-3"))
    tf = (Path(__file__).parent / "cases/bad/SR004-unknown-machine-type.tf").read_text()
    (tmp_path / "pools.tf").write_text(tf.replace("n2-standrad-8", "e2-standard-3"))
    runs = {
        "pool file": [cluster, str(tmp_path / "pools.yaml")],
        "--pool": [cluster, "--pool", "name=small-worker,machine=e2-standard-3,spot=true"],
        "terraform": [cluster, str(tmp_path / "pools.tf")],
    }
    for how, args in runs.items():
        code = main(["check", *args, "--select", "SR004,SR3", "--output-format", "json"])
        report = json.loads(capsys.readouterr().out)
        assert code == 0 and [f["code"] for f in report] == ["SR004"], how
        assert "e2-standard-3" in report[0]["message"], how


def test_sr701_counts_added_capabilities_beyond_net_bind_service(rendered_seed):
    cluster, tf = rendered_seed
    doc = raycluster_of(cluster)
    container = doc["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    container["securityContext"]["capabilities"]["add"] = ["NET_BIND_SERVICE"]
    assert "SR701" not in {f.code for f in _check_texts(yaml.safe_dump(doc), tf)}
    container["securityContext"]["capabilities"]["add"] = ["CHOWN"]
    found = [f for f in _check_texts(yaml.safe_dump(doc), tf) if f.code == "SR701"]
    assert len(found) == 1 and "capabilities.add has ['CHOWN']" in found[0].message


def test_sr707_leaves_secure_boot_that_a_module_caller_decides_alone():
    # terraform-google-modules: enable_secure_boot = lookup(each.value, "enable_secure_boot", ...)
    path = shared("realworld", "tgm-gke-module-cluster-impl.tf")
    assert "SR707" not in {f.code for f in run_checks(read_paths([str(path)]))}


# SR202 over real files (issue 10): KubeRay's 82 samples have no Spot pool in sight, so an
# unpinned head is no error there; the one sample whose workers ask for Spot gets a warning; and
# the Autopilot example from kubernetes-engine-samples whose head selects Spot is an error.
SR202_VERDICTS = {
    "kuberay-samples/ray-cluster-label-selector.yaml": ["warning"],  # workers select gke-spot
    "realworld/kes-verl-raycluster-autopilot-spot.yaml": ["error"],  # head: gke-spot "true"
}


def test_sr202_on_kuberays_samples_and_the_realworld_manifests():
    files = sorted(shared("kuberay-samples").glob("*.yaml")) + sorted(
        shared("realworld").glob("*.yaml")
    )
    assert len(files) > 82
    seen = {}
    for path in files:
        docs = read_paths([str(path)])
        found = [f.severity.name.lower() for f in run_checks(docs, select=["SR202"])]
        if found:
            seen[f"{path.parent.name}/{path.name}"] = found
    assert seen == SR202_VERDICTS


# Every file of ../shared/kuberay-samples and ../shared/realworld, checked alone (issue 10):
# the errors and warnings we defend (security rules aside: they have their own tests); a file
# not listed must give none. Pairs of Terraform and manifests: tests/test_gke_node_model.py.
ALONE_VERDICTS = {
    # workers select gke-spot while the head has no placement (SR202 as a warning), and a
    # group labelled ray.io/market-type=on-demand selects Spot nodes (SR205)
    "kuberay-samples/ray-cluster-label-selector.yaml": ["SR202", "SR205"],
    # preStop `ray stop`, which KubeRay dropped from its samples (kuberay#2606)
    "kuberay-samples/ray-service.incremental-upgrade.yaml": ["SR501"],
    "realworld/aiongke-rayservice-falcon-40b.yaml": ["SR501"],
    "realworld/kes-rayservice-llama2-7b.yaml": ["SR501"],
    "realworld/ray-docs-xgboost-benchmark.yaml": ["SR501"],
    # Spot pools from for_each without any NoSchedule taint
    "realworld/cave-pcg-pools-foreach.tf": ["SR606"],
    # nodeSelector value 8 (Kubernetes wants strings), and a head that selects Spot
    "realworld/kes-verl-raycluster-autopilot-spot.yaml": ["SR100", "SR202"],
    # KubeRay's samples of Alpha features: valid only with their feature gate, off by default
    # in 1.7, and the error names it (issue 12); with the gate on they are clean (below)
    "kuberay-samples/ray-cluster.embedded-gcs-ft.yaml": ["SR117"],
    "kuberay-samples/ray-cluster.historyserver.yaml": ["SR120"],
    "kuberay-samples/ray-cluster.mtls.yaml": ["SR119"],
    "kuberay-samples/ray-cluster.network-policy-deny-all.yaml": ["SR118"],
}
GATED_SAMPLES = {
    "ray-cluster.embedded-gcs-ft.yaml": "GCSFaultToleranceEmbeddedStorage",
    "ray-cluster.historyserver.yaml": "RayClusterHistoryServer",
    "ray-cluster.mtls.yaml": "RayClusterMTLS",
    "ray-cluster.network-policy-deny-all.yaml": "RayClusterNetworkPolicy",
}


def test_kuberays_gated_samples_name_their_gate_and_pass_with_it_on():
    from spotray._check._kuberay import parse_gates

    for name, gate in GATED_SAMPLES.items():
        path = shared("kuberay-samples", name)
        off = [f for f in run_checks(read_paths([str(path)]), select=["SR1"])]
        assert [f.severity for f in off] == [Severity.ERROR] and gate in off[0].message, name
        docs = read_paths([str(path)])
        docs.gates = parse_gates(f"{gate}=true")
        on = run_checks(docs, select=["SR1"])
        assert [f for f in on if f.severity == Severity.ERROR] == [], (name, on)


def test_every_public_file_alone_gives_the_verdict_we_defend():
    files = sorted(shared("kuberay-samples").glob("*.yaml")) + sorted(
        p for p in shared("realworld").iterdir() if p.suffix in (".yaml", ".tf", ".tfvars")
    )
    seen = {}
    for path in files:
        found = run_checks(read_paths([str(path)]), ignore=["SR7"])
        codes = sorted({f.code for f in found if f.severity >= Severity.WARNING})
        if codes:
            seen[f"{path.parent.name}/{path.name}"] = codes
    assert seen == ALONE_VERDICTS


def _one_group_cluster(pod_spec: dict) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "ray.io/v1",
            "kind": "RayCluster",
            "metadata": {"name": "c"},
            "spec": {
                "rayVersion": "2.60.0",
                "headGroupSpec": {
                    "rayStartParams": {},
                    "template": {
                        "spec": {
                            "nodeSelector": {"cloud.google.com/gke-nodepool": "head"},
                            "containers": [{"name": "ray-head", "image": "rayproject/ray:2.60.0"}],
                        }
                    },
                },
                "workerGroupSpecs": [
                    {
                        "groupName": "w",
                        "replicas": 1,
                        "minReplicas": 1,
                        "maxReplicas": 1,
                        "rayStartParams": {},
                        "template": {
                            "spec": {"nodeSelector": {"cloud.google.com/gke-nodepool": "p"}}
                            | pod_spec
                        },
                    }
                ],
            },
        }
    )


def _fit_findings(pod_spec: dict, pool: str) -> list:
    docs = Documents()
    read_yaml(_one_group_cluster(pod_spec), "c.yaml", docs)
    docs.pools = [parse_pool_flag(pool), parse_pool_flag("name=head,machine=e2-standard-4")]
    return run_checks(docs, select=["SR301", "SR304"])


def test_fit_counts_sidecars_as_the_scheduler_does():
    """Kubernetes reserves every container's requests plus the sidecars' (init containers with
    restartPolicy: Always) for a Pod: a Ray container that fits alone can still fit no node."""
    ray = {
        "name": "ray-worker",
        "image": "rayproject/ray:2.60.0",
        "resources": {"requests": {"cpu": "3200m", "memory": "10Gi"}},
    }
    sidecar = {
        "name": "log-shipper",
        "image": "fluent/fluent-bit:3.0",
        "restartPolicy": "Always",
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
    }
    pool = "name=p,machine=e2-standard-4"  # 3605m / 12918Mi available for Ray Pods
    assert [f.code for f in _fit_findings({"containers": [ray]}, pool)] == []
    with_sidecar = _fit_findings({"containers": [ray], "initContainers": [sidecar]}, pool)
    assert [f.code for f in with_sidecar] == ["SR301"]
    assert "cpu 3700m, memory 11264Mi" in with_sidecar[0].message  # Ray + sidecar
    # an ordinary init container runs before the others: only its own peak counts
    init = {**sidecar, "restartPolicy": None, "name": "fetch"}
    assert [
        f.code for f in _fit_findings({"containers": [ray], "initContainers": [init]}, pool)
    ] == []


def test_sr304_reports_idle_gpus():
    """A g2-standard-24 node has 2 L4 GPUs; Pods that need most of its CPU but one GPU leave
    the other GPU (the expensive part) idle."""
    ray = {
        "name": "ray-worker",
        "image": "rayproject/ray:2.60.0",
        "resources": {
            "requests": {"cpu": "20", "memory": "64Gi", "nvidia.com/gpu": 1},
            "limits": {"nvidia.com/gpu": 1},
        },
    }
    (finding,) = _fit_findings({"containers": [ray]}, "name=p,machine=g2-standard-24")
    assert finding.code == "SR304"
    assert "use 1 of its 2 GPU(s): 1 stay idle" in finding.message
    ray["resources"]["requests"].update(cpu="10", memory="40Gi")  # two Pods use both GPUs
    assert _fit_findings({"containers": [ray]}, "name=p,machine=g2-standard-24") == []


# --- GKE Autopilot (issue 10): nodes come from the Pods' compute class and Spot selection ---


def _autopilot_findings(cluster_text: str, select: list[str]) -> list:
    from spotray._check._autopilot import use_autopilot

    docs = Documents()
    read_yaml(cluster_text, "c.yaml", docs)
    use_autopilot(docs)
    return run_checks(docs, select=select)


def test_autopilot_spot_selection_places_groups_as_gke_does():
    """Google's Autopilot docs: a Pod runs on Spot only if it selects gke-spot=true (GKE adds
    the toleration), a compute class is chosen with cloud.google.com/compute-class, and a Spot
    Pod gets at most 25 s of grace on preemption."""
    docs = Documents()
    spot_workers = {
        "nodeSelector": {
            "cloud.google.com/gke-spot": "true",
            "cloud.google.com/compute-class": "Scale-Out",
        },
        "terminationGracePeriodSeconds": 25,
        "containers": [{"name": "ray-worker", "image": "rayproject/ray:2.60.0"}],
    }
    text = _one_group_cluster(spot_workers).replace(  # a head with no placement
        "        nodeSelector:\n          cloud.google.com/gke-nodepool: head\n", ""
    )
    assert "gke-nodepool: head" not in text
    from spotray._check._autopilot import use_autopilot
    from spotray._check._context import Context

    read_yaml(text, "c.yaml", docs)
    use_autopilot(docs)
    ctx = Context(docs)
    (cluster,) = docs.clusters
    placed = {
        n: [p.name for p in ctx.placement(cluster, g, path).pools]
        for n, g, path in cluster.groups()
    }
    assert placed["w"] == ["autopilot/Scale-Out/spot"]
    assert all(not name.endswith("/spot") for name in placed["head"])  # never on Spot
    found = {f.code for f in run_checks(docs, select=["SR2", "SR502"])}
    assert found == set()  # 25 s fits Autopilot's Spot grace; the head stays on demand
    text = text.replace("terminationGracePeriodSeconds: 25", "terminationGracePeriodSeconds: 30")
    (window,) = _autopilot_findings(text, ["SR502"])
    assert "the 25 s" in window.message


def test_autopilot_sample_from_kubernetes_engine_samples():
    """kes' verl Autopilot cluster: the head selects Spot (an error, SR202); its Performance
    class with a machine family and its GPU selectors are provisionable, so nothing lands
    nowhere (no SR201)."""
    text = shared("realworld", "kes-verl-raycluster-autopilot-spot.yaml").read_text()
    found = [f.code for f in _autopilot_findings(text, ["SR2"])]
    assert found == ["SR202"]
