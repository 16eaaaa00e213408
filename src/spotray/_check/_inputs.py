"""Paths → Documents: what `spotray check` reads from disk, dispatched by kind of file.

`.tf` files are Terraform (all of one run form one module), `.tfvars` files assign its
variables, a directory is a module as Terraform reads it, and anything else is YAML manifests.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .._errors import InputError
from .._io import read_input
from .._tfeval import module_scope
from ._documents import Documents, read_yaml
from ._terraform import parse_hcl, read_terraform, tfvars_values

# the blocks `check` reads from Terraform (pools, modules, and what their values come from)
READ_BLOCKS = re.compile(r"^\s*(?:resource|module|variable|locals)\b", re.M)


def expand_dirs(paths: list[str]) -> list[str]:
    """A directory stands for its Terraform module as Terraform reads it: its `*.tf` files,
    then `terraform.tfvars`, then `*.auto.tfvars` in name order."""
    out = []
    for name in paths:
        folder = Path(name)
        if not folder.is_dir():
            out.append(name)
            continue
        files = sorted(folder.glob("*.tf"))
        tfvars = folder / "terraform.tfvars"
        files += [tfvars] if tfvars.is_file() else []
        files += sorted(folder.glob("*.auto.tfvars"))
        if not files:
            raise InputError(f"{name}: a directory without Terraform files (*.tf, *.tfvars)")
        out += [str(f) for f in files]
    return out


def parse_var(text: str) -> tuple[str, Any]:
    """`--var name=value` as Terraform's `-var`: a literal list, map, number or bool is parsed
    as HCL, anything else is the string itself."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise InputError(f"--var {text!r}: expected NAME=VALUE")
    try:
        value = tfvars_values(parse_hcl(f"v = {raw}\n", "--var"))["v"]
    except InputError:
        value = raw
    if not isinstance(value, (list, dict, bool, int, float)):
        value = raw
    return name.strip(), value


def read_paths(
    paths: list[str], *, var_files: list[str] | None = None, variables: list[str] | None = None
) -> Documents:
    """Read every file: `.tf` as Terraform, `.tfvars` as variable values, anything else as YAML
    manifests; a directory as a Terraform module. The Terraform files of one run are one
    module: variables declared in any of them, with their defaults, overridden by the
    `.tfvars` files in the order given, then `var_files` and `variables` (`NAME=VALUE`), as
    `terraform plan -var-file F -var NAME=VALUE` would; locals from all of them."""
    docs = Documents()
    terraform: list[tuple[str, str, dict]] = []
    values: dict[str, Any] = {}
    for name in expand_dirs(paths):
        text = read_input(name)
        if Path(name).suffix == ".tf":
            if READ_BLOCKS.search(text):  # providers.tf, outputs.tf ...: nothing check reads
                terraform.append((name, text, parse_hcl(text, name)))
        elif name.endswith(".tfvars"):
            values.update(tfvars_values(parse_hcl(text, name)))
        else:
            read_yaml(text, name, docs)
    for name in var_files or []:
        values.update(tfvars_values(parse_hcl(read_input(name), name)))
    values.update(parse_var(v) for v in variables or [])
    scope = module_scope([document for _, _, document in terraform], values)
    for name, text, document in terraform:
        read_terraform(text, name, docs, document=document, scope=scope)
    return docs
