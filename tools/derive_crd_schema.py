#!/usr/bin/env python3
"""Derive spotray's packaged RayCluster schema from KubeRay's CRD.

KubeRay's CRD (`ray.io_rayclusters.yaml`, 934 kB of YAML, mostly field descriptions) is too slow
to load on every `spotray check`. This keeps the `v1` openAPIV3Schema without `description`s,
turns the one CEL rule that is an enumeration (`self in [...]`) into `enum`, drops the other CEL
rules (immutability, which needs an old object), and writes compact JSON.

Usage (from the repository root)::

    python tools/derive_crd_schema.py            # regenerate the packaged file
    python tools/derive_crd_schema.py --check    # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "schemas" / "ray.io_rayclusters.yaml"
DEFAULT_OUT = REPO_ROOT / "src" / "spotray" / "_data" / "raycluster_v1_schema.json"
ENUM_RULE = re.compile(r"^self in (\[.*\])$")


def _strip(node: Any) -> Any:
    if isinstance(node, list):
        return [_strip(x) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "description":
            continue
        if key == "properties":
            out[key] = {name: _strip(sub) for name, sub in value.items()}
        elif key == "x-kubernetes-validations":
            for rule in value:
                m = ENUM_RULE.match(rule.get("rule", ""))
                if m:
                    out["enum"] = ast.literal_eval(m.group(1))
        else:
            out[key] = _strip(value)
    return out


def derive(source: Path) -> str:
    crd = yaml.load(source.read_text(), Loader=yaml.CSafeLoader)
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    doc = {
        "source": "KubeRay ray-operator/config/crd/bases/ray.io_rayclusters.yaml, v1.7.0, "
        "Apache-2.0; derived by tools/derive_crd_schema.py (see SOURCE.md)",
        "schema": _strip(v1["schema"]["openAPIV3Schema"]),
    }
    return json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = derive(args.source)
    if args.check:
        if args.out.read_text() != text:
            print(f"{args.out} is stale: run tools/derive_crd_schema.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text)
    print(f"wrote {args.out} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
