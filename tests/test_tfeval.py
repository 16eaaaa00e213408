"""The Terraform evaluator (issue 10): string templates, operators, `count`, and a module's
variables read across the run's files and `.tfvars`, checked against Terraform's own rules (the
language's documented semantics: a template's interpolations, `count = 0` meaning no resource,
later `-var-file`s overriding earlier ones) and on the public files in ../shared/realworld."""

from __future__ import annotations

from pathlib import Path

import hcl2
import pytest

from spotray._check import read_paths, run_checks
from spotray._tfeval import UNKNOWN, Scope, evaluate, expand_resources

from .conftest import shared

SCOPE = Scope(
    {
        "region": "us-central1",
        "on": True,
        "off": False,
        "n": 3,
        "pool": {"spot": True, "machine": "n2-standard-8"},
        "zones": ["a", "b"],
        "empty": "",
    },
    count_index=1,
)


@pytest.mark.parametrize(
    "text, value",
    [
        ('"${var.region}-a"', "us-central1-a"),
        ('"x-${var.n}-${var.on}"', "x-3-true"),  # bools print as true/false
        ('"$${literal}"', "${literal}"),
        ('"${var.unset}-a"', UNKNOWN),  # never the literal text
        ('"pool-${count.index + 1}"', "pool-2"),
        ("${var.on == false && var.off ? 1 : 0}", 0),
        ("${var.off || var.on}", True),
        ("${var.on || var.unset}", True),  # known short-circuit
        ("${var.unset && var.on}", UNKNOWN),
        ("${!var.off}", True),
        ('${var.n >= 2 ? "big" : "small"}', "big"),
        ("${var.n * 2 - 1}", 5),
        ("${-var.n}", -3),
        ("${var.n / 0}", UNKNOWN),
        ("${var.unset ? 1 : 0}", UNKNOWN),
        # try() of an unknown value is unknown (Terraform waits for it), of an error the next
        ("${try(var.unset, -1)}", UNKNOWN),
        ('${try(var.pool["gpu"], -1)}', -1),
        ("${can(var.pool.gpu)}", False),
        ("${can(var.pool.spot)}", True),
        ("${can(var.unset)}", UNKNOWN),
        # literals and for expressions (Terraform's language docs, "for Expressions")
        ('${[for z in var.zones : "${var.region}-${z}"]}', ["us-central1-a", "us-central1-b"]),
        ('${[for i, z in var.zones : i if z != "a"]}', [1]),
        ("${{for z in var.zones : z => upper(z)}}", {"a": "A", "b": "B"}),
        ("${{for k, v in var.pool : v => k}}", {"true": "spot", "n2-standard-8": "machine"}),
        ('${{for z in concat(var.zones, ["a"]) : z => 1...}}', {"a": [1, 1], "b": [1]}),
        ('${{for z in concat(var.zones, ["a"]) : z => 1}}', UNKNOWN),  # duplicate key: an error
        ("${[for z in var.unset : z]}", UNKNOWN),
        ('${{a = 1, "b" = [var.n, 2]}.b[0]}', 3),
        ('${toset(["b", "a", "b"])}', ["a", "b"]),
        ('${split(",", "x,y")}', ["x", "y"]),
        ('${zipmap(["a"], [var.n])}', {"a": 3}),
        ("${flatten([[1], [2, [3]]])}", [1, 2, 3]),
        # functions, as Terraform documents them
        ('${lookup(var.pool, "spot", false)}', True),
        ('${lookup(var.pool, "gpu", 0)}', 0),
        ('${lookup(var.pool, "gpu")}', UNKNOWN),  # an error in Terraform: never a guess
        ('${try(lookup(var.pool, "gpu"), "none")}', "none"),
        ('${merge(var.pool, var.pool)["machine"]}', "n2-standard-8"),
        ("${concat(var.zones, var.zones)}", ["a", "b", "a", "b"]),
        ('${format("%s-%s", var.region, "f")}', "us-central1-f"),
        ('${coalesce(var.empty, "fallback")}', "fallback"),
        ('${coalesce(var.unset, "fallback")}', UNKNOWN),  # unknown first: cannot tell
        ("${element(var.zones, 3)}", "b"),  # wraps around
        ("${length(var.zones)}", 2),
        ('${tobool("true")}', True),
        ('${join("-", var.zones)}', "a-b"),
        ("${some_function(1)}", UNKNOWN),
    ],
)
def test_expressions(text, value):
    assert evaluate(text, SCOPE) == value


def test_count_makes_zero_one_or_many_instances_and_unknown_is_marked():
    document = hcl2.loads(
        """
variable "n" { default = 2 }
variable "off" { default = false }
resource "google_container_node_pool" "many" {
  count = var.n
  name  = "pool-${count.index}"
}
resource "google_container_node_pool" "none" {
  count = var.off ? 1 : 0
  name  = "never"
}
resource "google_container_node_pool" "maybe" {
  count = length(var.zones)
  name  = "maybe"
}
"""
    )
    found = expand_resources(document, "google_container_node_pool")
    assert [(a, b["name"]) for a, b in found] == [
        ("google_container_node_pool.many[0]", "pool-0"),
        ("google_container_node_pool.many[1]", "pool-1"),
        ("google_container_node_pool.maybe[*]", "maybe"),  # instances unknown
    ]


def test_variables_come_from_every_file_of_the_run_and_tfvars_override(tmp_path):
    (tmp_path / "variables.tf").write_text('variable "region" { default = "us-east1" }\n')
    (tmp_path / "main.tf").write_text(
        'resource "google_container_node_pool" "p" {\n'
        '  name = "p"\n  location = var.region\n'
        '  node_locations = ["${var.region}-b"]\n'
        '  node_config { machine_type = "e2-standard-4" }\n}\n'
    )
    (tmp_path / "terraform.tfvars").write_text('region = "europe-west4"\n')
    (tmp_path / "extra.auto.tfvars").write_text('region = "us-central1"\n')
    files = [str(tmp_path / n) for n in ("main.tf", "variables.tf")]
    (pool,) = read_paths(files).pools
    assert pool.region == "us-east1" and pool.zones == ("us-east1-b",)
    (pool,) = read_paths([*files, str(tmp_path / "terraform.tfvars")]).pools
    assert pool.zones == ("europe-west4-b",)
    # a directory is the module as Terraform reads it: *.tf, terraform.tfvars, *.auto.tfvars
    (pool,) = read_paths([str(tmp_path)]).pools
    assert pool.zones == ("us-central1-b",)


def test_a_directory_without_terraform_is_bad_input(tmp_path):
    from spotray._errors import InputError

    with pytest.raises(InputError, match="without Terraform files"):
        read_paths([str(tmp_path)])


def test_realworld_terraform_reads_as_terraform_would():
    # Google's ML-platform reference pools: zones are "${var.subnet_01_region}-a"; without the
    # variable's value they are unknown, not 21 false SR601 errors; with the platform's tfvars
    # they are zones of us-central1.
    pools = shared("realworld", "aiongke-mlplatform-node-pools.tf")
    alone = run_checks(read_paths([str(pools)]))
    assert not [f for f in alone if f.code == "SR601"]
    tfvars = shared("realworld", "aiongke-platform.tfvars")
    docs = read_paths([str(pools), str(tfvars)])
    assert len(docs.pools) == 7
    assert not [f for f in run_checks(docs) if f.code == "SR601"]
    # kubernetes-engine-samples' gke-ray platform: with its variables.tf, the TPU pool has
    # count = 0 by default (enable_tpu = false), so it does not exist; the CPU and GPU pools do
    main = shared("realworld", "kes-gkeray-platform-main.tf")
    variables = shared("realworld", "kes-gkeray-platform-variables.tf")
    docs = read_paths([str(main), str(variables)])
    assert sorted(p.name for p in docs.pools) == ["cpu-pool", "gpu-pool"]
    assert not [f for f in run_checks(docs) if f.code == "SR601"]


def test_dynamic_taints_are_unknown_and_hcl_true_is_the_string_true(tmp_path):
    tf = tmp_path / "pools.tf"
    tf.write_text(
        'resource "google_container_node_pool" "a" {\n  name = "a"\n  node_config {\n'
        '    dynamic "taint" {\n      for_each = var.taints\n'
        "      content {\n        key = taint.value.key\n        value = true\n"
        '        effect = "NO_SCHEDULE"\n      }\n    }\n  }\n}\n'
        'resource "google_container_node_pool" "b" {\n  name = "b"\n  node_config {\n'
        '    taint {\n      key = "dedicated"\n      value = true\n'
        '      effect = "NO_SCHEDULE"\n    }\n  }\n}\n'
    )
    a, b = read_paths([str(tf)]).pools
    assert a.taints is None  # unknown, not "no taints"
    assert [str(t) for t in b.taints] == ["dedicated=true:NoSchedule"]


def test_sr001_stays_when_the_terraform_holds_no_pool_spotray_reads(tmp_path):
    tf = tmp_path / "module.tf"
    tf.write_text(
        'module "gke" {\n  source = "terraform-google-modules/kubernetes-engine/google"\n}\n'
    )
    cluster = shared("kuberay-samples", "ray-cluster.sample.yaml")
    found = run_checks(read_paths([str(cluster), str(tf)]))
    (note,) = [f for f in found if f.code == "SR001"]
    assert "holds no google_container_node_pool" in note.message


# --- locals, for expressions, modules, inline pools, dynamic blocks (issue 10) -------------


def test_the_kubernetes_engine_modules_pool_lists_built_with_locals_and_for_expressions():
    """everycure-org/matrix builds the module's node_pools from locals with for expressions,
    concat and merge; the module (its cluster.tf) gives each pool node_pools_taints["all"]
    plus its own, and spotray reads them as Terraform would."""
    docs = read_paths([str(shared("realworld", "everycure-matrix-gke-module-locals.tf"))])
    pools = {p.name: p for p in docs.pools}
    # node_pools_combined leaves the two GPU pool lists out (so does Terraform)
    assert len(pools) == 16 and not any("l4" in name for name in pools)
    spot = [n for n, p in pools.items() if p.spot]
    assert sorted(spot) == sorted(
        [f"n2d-highmem-{s}-spot-nodes" for s in (8, 16, 32, 48, 64, 80)]
        + ["h3-standard-88-nodes-spot"]
    )
    # the last merge() argument wins: the spot for-expression's three taints
    assert [t.key for t in pools["n2d-highmem-8-spot-nodes"].taints] == [
        "node-memory-size",
        "spot",
        "workload",
    ]
    assert [t.key for t in pools["n2d-highmem-8-nodes"].taints] == ["workload"]  # the map's own
    assert pools["management-nodes"].taints == ()  # in no map: only "all" (empty)
    h3 = pools["h3-standard-88-nodes-spot"]
    assert h3.machine_type == "h3-standard-88" and h3.zones == ("us-central1-a",)
    assert h3.max_nodes == 0  # "Scaled to 0: TECH-418"
    assert h3.labels["billing-category"] == "cpu-compute-spot"  # node_pools_labels' for/merge
    assert set(h3.unread) == {"labels", "location"}  # var.environment, var.default_region


def test_module_pools_from_a_tfvars_file_and_var_flags():
    files = [
        str(shared("realworld", "aiongke-module-gke-standard-public.tf")),
        str(shared("realworld", "aiongke-platform.tfvars")),
    ]
    # var.enable_tpu is declared in a variables.tf we do not have: the list is unknown
    docs = read_paths(files)
    assert docs.pools == [] and [(u.name, u.line, u.what) for u in docs.unread] == [
        ("module.gke.node_pools", 49, "node_pools")
    ]
    findings = run_checks(docs, select=["SR003"])
    assert [f.line for f in findings] == [49] and "not enumerated" in findings[0].message
    pools = {p.name: p for p in read_paths(files, variables=["enable_tpu=false"]).pools}
    assert sorted(pools) == ["cpu-pool", "gpu-pool-l4"]
    gpu = pools["gpu-pool-l4"]
    assert (gpu.machine_type, gpu.gpu_type, gpu.gpus, gpu.zones) == (
        "g2-standard-24",
        "nvidia-l4",
        2,
        ("us-central1-a",),
    )
    assert gpu.max_nodes == 3 and gpu.spot is False


def test_inline_node_pool_blocks_of_a_cluster(tmp_path):
    (tmp_path / "main.tf").write_text(
        """
resource "google_container_cluster" "ray" {
  name                     = "ray"
  location                 = "us-central1"
  remove_default_node_pool = false
  node_pool {
    name = "head"
    node_config { machine_type = "n2-standard-8" }
  }
  node_pool {
    name           = "workers"
    node_locations = ["us-central1-a"]
    autoscaling { max_node_count = 4 }
    node_config {
      machine_type = "e2-standard-4"
      spot         = true
      taint {
        key    = "spot"
        value  = true
        effect = "NO_SCHEDULE"
      }
    }
  }
}
"""
    )
    head, workers = read_paths([str(tmp_path / "main.tf")]).pools
    assert (head.name, head.spot, head.region, head.line) == ("head", False, "us-central1", 7)
    assert (workers.name, workers.spot, workers.max_nodes) == ("workers", True, 4)
    assert [(t.key, t.value, t.effect) for t in workers.taints] == [("spot", "true", "NoSchedule")]


def test_dynamic_blocks_become_the_blocks_they_make_or_unknown():
    document = hcl2.loads(
        """
variable "taints" { default = [{ key = "a", value = "1", effect = "NO_SCHEDULE" }] }
resource "google_container_node_pool" "known" {
  name = "known"
  node_config {
    machine_type = "e2-standard-4"
    dynamic "taint" {
      for_each = var.taints
      content {
        key    = taint.value.key
        value  = taint.value.value
        effect = taint.value.effect
      }
    }
  }
}
resource "google_container_node_pool" "unknown" {
  name = "unknown"
  node_config {
    machine_type = "e2-standard-4"
    dynamic "taint" {
      for_each = var.not_given
      iterator = t
      content {
        key = t.value.key
      }
    }
  }
}
"""
    )
    (_, known), (_, unknown) = expand_resources(document, "google_container_node_pool")
    assert known["node_config"][0]["taint"] == [{"key": "a", "value": "1", "effect": "NO_SCHEDULE"}]
    assert unknown["node_config"][0]["taint"] is UNKNOWN  # never "no taints"


def test_the_tpu_sample_expands_its_dynamic_placement_policy():
    """kubernetes-engine-samples' TPU cluster: `dynamic "placement_policy"` only for multi-host
    slices (var.nodes_per_slice > 1), and `count` over var.num_tpu_slices."""
    path = str(shared("realworld", "derived-kes-tpu-getstarted-module.tf"))
    single = {p.name: p for p in read_paths([path]).pools}["tpu-np-1"]
    assert single.machine_type == "ct6e-standard-8t" and single.tpu_topology is None
    multi = read_paths([path], variables=["nodes_per_slice=2", "tpu_topology=4x4"]).pools
    assert {p.name: p.tpu_topology for p in multi}["tpu-np-1"] == "4x4"


def test_var_flags_parse_like_terraforms():
    from spotray._check._inputs import parse_var

    assert parse_var("n=3") == ("n", 3)
    assert parse_var("on=true") == ("on", True)
    assert parse_var('zones=["a", "b"]') == ("zones", ["a", "b"])
    assert parse_var("region=us-central1") == ("region", "us-central1")  # a plain string
    assert parse_var("name=a=b") == ("name", "a=b")


def test_check_takes_var_file_and_var_as_terraform_does(tmp_path, capsys):
    from spotray.cli import main

    case = Path(__file__).parent / "cases/bad/SR003-terraform-not-read.tf"
    assert main(["check", str(case), "--select", "SR003,SR004"]) == 0
    assert "not evaluated: machine_type" in capsys.readouterr().out
    (tmp_path / "prod.tfvars").write_text('machine_type = "n2-standrad-8"\n')
    assert main(["check", str(case), "--var-file", str(tmp_path / "prod.tfvars")]) == 0
    assert "unknown machine type 'n2-standrad-8'" in capsys.readouterr().out
    # -var after -var-file wins, as in Terraform
    args = ["--var-file", str(tmp_path / "prod.tfvars"), "--var", "machine_type=e2-standard-4"]
    assert main(["check", str(case), *args, "--select", "SR0"]) == 0
    assert "0 finding(s)" in capsys.readouterr().out
    assert main(["check", str(case), "--var", "oops"]) == 2
    assert "--var 'oops': expected NAME=VALUE" in capsys.readouterr().err


def test_pools_that_cannot_be_enumerated_are_named_and_sr001_stays():
    """A module whose node_pools list is unknown reads as zero pools: SR001 stays (placement
    was not checked) and SR003 names the list, never a silent exit 0 with no note."""
    files = [
        str(shared("seed", "ray-cluster.yaml")),
        str(shared("realworld", "aiongke-module-gke-standard-public.tf")),
    ]
    found = {f.code: f.message for f in run_checks(read_paths(files), select=["SR0"])}
    assert "could not be enumerated" in found["SR001"]
    assert found["SR003"].startswith("module.gke.node_pools: node pools not enumerated")


def test_terraform_files_with_nothing_check_reads_are_not_parsed(tmp_path):
    """providers.tf, outputs.tf, versions.tf: no resource, module, variable or locals block, so
    python-hcl2 (the slow part of a check) does not parse them."""
    (tmp_path / "outputs.tf").write_text('output "x" {\n  value =\n}\n')  # not even valid
    (tmp_path / "main.tf").write_text('resource "google_container_node_pool" "p" {\n  name =\n}\n')
    assert read_paths([str(tmp_path / "outputs.tf")]).pools == []
    from spotray._errors import InputError

    with pytest.raises(InputError, match=r"main\.tf: invalid HCL"):
        read_paths([str(tmp_path)])
