"""The Terraform evaluator (issue 10): string templates, operators, `count`, and a module's
variables read across the run's files and `.tfvars`, checked against Terraform's own rules (the
language's documented semantics: a template's interpolations, `count = 0` meaning no resource,
later `-var-file`s overriding earlier ones) and on the public files in ../shared/realworld."""

from __future__ import annotations

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


def test_count_makes_zero_one_or_many_instances_and_unknown_keeps_one():
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
        ("google_container_node_pool.maybe", "maybe"),
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
