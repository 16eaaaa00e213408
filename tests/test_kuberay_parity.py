"""KubeRay 1.7 parity, case by case, against KubeRay's own tests.

`tests/kuberay_parity/` holds our transcription of KubeRay v1.7.0's validation table tests
(`ray-operator/controllers/ray/utils/validation_test.go`) and webhook tests
(`ray-operator/pkg/webhooks/v1/*_webhook_test.go`): one YAML document per Go test case, named
`<GoTestFunction>/<case name>`, with the manifest the case builds, the function it calls, the
feature gates it sets, KubeRay's verdict (`expect_error`), and what a default 1.7 install does
with that manifest (`default_install`: the CRD schema with its defaults, then validation.go
under the default gates, the webhook off).

Two verdicts are compared for every case:
- **KubeRay's test**: SR1xx errors from the rules that restate the function the case calls,
  under the gates the case sets (SR100, the CRD schema, is not what those functions check);
- **the default install**: every SR1xx error (SR100 included) under the default gates.

`DIFFERENCES` lists the cases where spotray deliberately differs, each with its reason (also in
docs/rules.md); any other disagreement fails. A case listed there that agrees also fails, so
the list only shrinks as spotray closes a gap.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spotray._check import RULES, Documents, Severity, read_yaml, run_checks
from spotray._check._kuberay import DIFFERENCES, INSTALL_DIFFERENCES, default_gates

CASES = Path(__file__).resolve().parent / "kuberay_parity"

SR1_ERRORS = {code for code, rule in RULES.items() if code.startswith("SR1")}
# the rules that restate each KubeRay function a case calls; None: every SR1xx rule but these
METADATA = {"SR101"}
NOT_SPEC = {"SR100", "SR101", "SR121", "SR125"}  # CRD schema, metadata, upgradeStrategy
CALLS: dict[str, set[str]] = {
    "ValidateRayClusterMetadata": METADATA,
    "ValidateRayJobMetadata": METADATA,
    "ValidateRayServiceMetadata": {"SR101", "SR125"},
    "ValidateRayClusterUpgradeOptions": {"SR121"},
    "ValidateClusterUpgradeOptions": {"SR124"},
    "validateNetworkPolicy": {"SR118"},
    "validateTLSOptions": {"SR119"},
    "ValidateRayClusterSpec": SR1_ERRORS - NOT_SPEC,
    "ValidateRayJobSpec": SR1_ERRORS - NOT_SPEC,
    "ValidateRayServiceSpec": SR1_ERRORS - NOT_SPEC,
    # the optional webhook: metadata, and (RayCluster) unique worker group names, a warning
    # in spotray since a default install does not check it (SR102)
    "webhook validateRayCluster": {"SR101", "SR102"},
    "webhook validateRayJob": METADATA,
    "webhook validateRayService": METADATA,
}
# functions called below the gate that guards them: evaluated with that gate on
GATED = {
    "validateNetworkPolicy": {"RayClusterNetworkPolicy": True},
    "validateTLSOptions": {"RayClusterMTLS": True},
}


def load_cases() -> list[dict]:
    out = []
    for path in sorted(CASES.glob("*.yaml")):
        for case in yaml.safe_load_all(path.read_text()):
            case["file"] = path.name
            out.append(case)
    return out


ALL = load_cases()


def findings(case: dict, gates: dict[str, bool]) -> list:
    docs = Documents()
    read_yaml(yaml.safe_dump(case["manifest"], sort_keys=False), "case.yaml", docs)
    docs.gates = gates
    return run_checks(docs)


def test_the_transcription_is_whole():
    ids = [c["id"] for c in ALL]
    assert len(ids) == len(set(ids)), "case ids are unique"
    assert len(ALL) >= 230  # 238 cases of 31 Go test functions (RayCronJob's left out)
    for case in ALL:
        assert case["calls"] in CALLS, case["id"]
        assert case["default_install"] in ("accept", "reject"), case["id"]
        assert set(case["gates"]) <= set(default_gates()), case["id"]


def _go_verdict(case: dict) -> tuple[bool, list[str]]:
    gates = {**default_gates(), **GATED.get(case["calls"], {}), **case["gates"]}
    codes = CALLS[case["calls"]]
    webhook = case["calls"].startswith("webhook")
    found = [
        f
        for f in findings(case, gates)
        if f.code in codes and (f.severity == Severity.ERROR or webhook)
    ]
    return bool(found), [f"{f.code}: {f.message}" for f in found]


def _install_verdict(case: dict) -> tuple[bool, list[str]]:
    found = [
        f
        for f in findings(case, default_gates())
        if f.code in SR1_ERRORS and f.severity == Severity.ERROR
    ]
    return bool(found), [f"{f.code}: {f.message}" for f in found]


@pytest.mark.parametrize("case", ALL, ids=[c["id"] for c in ALL])
def test_agrees_with_kuberays_test(case):
    verdict, found = _go_verdict(case)
    agrees = verdict == case["expect_error"]
    if case["id"] in DIFFERENCES:
        assert not agrees, f"now agrees: drop it from DIFFERENCES ({DIFFERENCES[case['id']]})"
        return
    assert agrees, (case["expect_error"], case["message"], found)
    if case["expect_error"]:
        # and for KubeRay's reason: the rule that restates the check its message names
        assert any(f.startswith(case["rule"] + ":") for f in found), (case["message"], found)


@pytest.mark.parametrize("case", ALL, ids=[c["id"] for c in ALL])
def test_agrees_with_a_default_install(case):
    verdict, found = _install_verdict(case)
    agrees = verdict == (case["default_install"] == "reject")
    if case["id"] in INSTALL_DIFFERENCES:
        assert not agrees, f"now agrees: drop it ({INSTALL_DIFFERENCES[case['id']]})"
    else:
        assert agrees, (case["default_install"], case["default_install_why"], found)


def test_the_operators_gates_are_an_input_of_check(capsys):
    from spotray._check._cli import main

    from .conftest import shared

    sample = str(shared("kuberay-samples", "ray-cluster.mtls.yaml"))
    assert main([sample, "--select", "SR1"]) == 1
    assert "RayClusterMTLS feature gate (Alpha, off by default)" in capsys.readouterr().out
    assert main([sample, "--select", "SR1", "--kuberay-feature-gates", "RayClusterMTLS=true"]) == 0
    for bad, says in (
        ("RayClusterMTLS=yes", "expected NAME=true or NAME=false"),
        ("RayClusterTLS=true", "KubeRay 1.7 has no feature gate 'RayClusterTLS'"),
    ):
        capsys.readouterr()
        assert main([sample, "--kuberay-feature-gates", bad]) == 2
        assert says in capsys.readouterr().err


# Cases written from reading KubeRay v1.7.0's code (not in its tests), each with the line that
# decides it: (id, manifest, gates, the SR1xx error codes KubeRay's verdict implies).
def _cluster(**spec) -> dict:
    head = {
        "rayStartParams": {},
        "template": {
            "spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.60.0"}]}
        },
    }
    return {"rayVersion": "2.60.0", "headGroupSpec": head, **spec}


def _worker(name: str = "w", **extra) -> dict:
    return {
        "groupName": name,
        "minReplicas": 0,
        "maxReplicas": 2,
        "template": {
            "spec": {"containers": [{"name": "ray-worker", "image": "rayproject/ray:2.60.0"}]}
        },
        **extra,
    }


def _doc(kind: str, spec: dict, **meta) -> dict:
    return {
        "apiVersion": "ray.io/v1",
        "kind": kind,
        "metadata": {"name": "x", **meta},
        "spec": spec,
    }


READING = [
    # rayjob_controller.go copies rayClusterSpec into a RayCluster labelled as the RayJob's;
    # ValidateRayClusterUpgradeOptions (validation.go:50-53) then refuses its upgradeStrategy
    (
        "upgradeStrategy inside a RayJob",
        _doc("RayJob", {"rayClusterSpec": _cluster(upgradeStrategy={"type": "Recreate"})}),
        {},
        {"SR121"},
    ),
    # util.go EnvVarByName returns the first entry: "false" here, so autoscaling off is fine
    (
        "the first of a repeated RAY_enable_autoscaler_v2 decides",
        _doc(
            "RayCluster",
            _cluster(
                headGroupSpec={
                    "rayStartParams": {},
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "ray-head",
                                    "image": "rayproject/ray:2.60.0",
                                    "env": [
                                        {"name": "RAY_enable_autoscaler_v2", "value": "false"},
                                        {"name": "RAY_enable_autoscaler_v2", "value": "true"},
                                    ],
                                }
                            ]
                        }
                    },
                }
            ),
        ),
        {},
        set(),
    ),
    # a null rayClusterSpec is pruned: the RayJob selects a cluster (validation.go:564)
    (
        "a null rayClusterSpec with a clusterSelector",
        _doc("RayJob", {"rayClusterSpec": None, "clusterSelector": {"ray.io/cluster": "c"}}),
        {},
        set(),
    ),
    # validation.go:352: StorageClassName != nil, even empty
    (
        "claimName with an empty storageClassName",
        _doc(
            "RayCluster",
            _cluster(
                gcsFaultToleranceOptions={
                    "backend": "rocksdb",
                    "storage": {"claimName": "c", "storageClassName": ""},
                }
            ),
        ),
        {"GCSFaultToleranceEmbeddedStorage": True},
        {"SR117"},
    ),
    # ParseGeneric allows leading spaces, and refuses zero-prefixed components
    (
        "a rayVersion with a leading space",
        _doc(
            "RayCluster",
            _cluster(
                rayVersion=" 2.56.0",
                autoscalerOptions={"version": "v2"},
                enableInTreeAutoscaling=True,
                workerGroupSpecs=[_worker(priority=1)],
            ),
        ),
        {},
        set(),
    ),
    (
        "a zero-prefixed rayVersion",
        _doc(
            "RayCluster",
            _cluster(
                rayVersion="02.60.0",
                autoscalerOptions={"version": "v2"},
                enableInTreeAutoscaling=True,
                workerGroupSpecs=[_worker(priority=1)],
            ),
        ),
        {},
        {"SR109"},
    ),
    # Go's regexp $ does not match before a trailing newline (IsDNS1123Label)
    (
        "a group name ending in a newline, with a networkPolicy",
        _doc("RayCluster", _cluster(networkPolicy={}, workerGroupSpecs=[_worker("w\n")])),
        {"RayClusterNetworkPolicy": True},
        {"SR118"},
    ),
    # a template that is not a map must not crash the rocksdb or history-server checks
    (
        "a head template that is not a map, with rocksdb",
        _doc(
            "RayCluster",
            {
                "headGroupSpec": {"template": "x"},
                "gcsFaultToleranceOptions": {"backend": "rocksdb"},
            },
        ),
        {"GCSFaultToleranceEmbeddedStorage": True},
        None,  # whatever it says, it says it without a crash
    ),
    # ValidateRayCronJobSpec validates jobTemplate as a RayJob spec (validation.go:994-998)
    (
        "a RayCronJob whose jobTemplate sets neither a cluster nor a selector",
        _doc("RayCronJob", {"schedule": "0 * * * *", "jobTemplate": {"entrypoint": "python x.py"}}),
        {"RayCronJob": True},
        {"SR122"},
    ),
]


@pytest.mark.parametrize("case", READING, ids=[c[0] for c in READING])
def test_cases_from_reading_kuberays_code(case):
    _, manifest, gates, expected = case
    found = findings({"manifest": manifest}, {**default_gates(), **gates})
    codes = {f.code for f in found if f.code.startswith("SR1") and f.severity == Severity.ERROR}
    if expected is not None:
        assert codes - {"SR100"} == expected, [str(f) for f in found]


# KubeRay 1.7 parses a RayCronJob schedule with robfig/cron v3.0.1's ParseStandard (go.mod:17,
# validation.go:979). Read from its parser.go: five fields, each a comma list of `*`/`?`, `N` or
# `N-M` with an optional `/step` (`N/step` runs to the field's maximum), numbers by strconv.Atoi,
# names for months and weekdays, bounds minute 0-59, hour 0-23, day 1-31, month 1-12, weekday
# 0-6 (7 is refused), a step of 0 refused.
CRON = [
    ("*/5 * * * *", True),
    ("0 9 * * mon-fri", True),
    ("0 0 1 JAN,jul *", True),
    ("5/10 * * * *", True),
    ("+5 * * * *", True),
    ("0 0 * * 7", False),
    ("60 * * * *", False),
    ("0 24 * * *", False),
    ("0 0 0 * *", False),
    ("0 0 * 13 *", False),
    ("3-1 * * * *", False),
    ("*/0 * * * *", False),
    ("1-2-3 * * * *", False),
    ("1/2/3 * * * *", False),
    ("x * * * *", False),
    ("\u0663 * * * *", False),  # an Arabic-Indic digit: Atoi takes ASCII only
    ("*/99999999999999999999 * * * *", False),  # past int64
    # the schedule as KubeRay passes it, unstripped (parser.go Parse: "@" prefix, then Fields)
    ("@daily", True),
    (" @daily", False),
    ("@daily ", False),
    ("@every 1h30m", True),
    ("@every  1h", False),  # ParseDuration(" 1h")
    ("@every 0s", True),  # Every() runs anything under a second every second
]


@pytest.mark.parametrize("schedule, accepted", CRON, ids=[c[0] for c in CRON])
def test_raycronjob_schedules_as_robfig_cron_reads_them(schedule, accepted):
    manifest = _doc(
        "RayCronJob",
        {"schedule": schedule, "jobTemplate": {"rayClusterSpec": _cluster()}},
    )
    found = findings({"manifest": manifest}, {**default_gates(), "RayCronJob": True})
    sr126 = [str(f) for f in found if f.code == "SR126"]
    assert (not sr126) == accepted, sr126


@pytest.mark.parametrize(
    "value, accepted",
    [
        ("2562047h", True),
        ("2562048h", False),
        ("3000000h", False),
        ("9223372036854775807", True),  # seconds by strconv.Atoi: int64
        ("9223372036854775808", False),
        ("\u0663", False),
    ],
)
def test_initializing_timeouts_past_a_go_duration_are_refused(value, accepted):
    # time.ParseDuration refuses more than int64 nanoseconds (about 2562047.8 hours)
    manifest = _doc("RayService", {"rayClusterConfig": _cluster()})
    manifest["metadata"]["annotations"] = {"ray.io/initializing-timeout": value}
    found = findings({"manifest": manifest}, default_gates())
    assert (not [f for f in found if f.code == "SR125"]) == accepted
