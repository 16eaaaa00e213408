#!/usr/bin/env python3
"""Derive spotray's machine-type and price table from a Cyclenerd ``pricing.yml``.

The upstream file (https://github.com/Cyclenerd/google-cloud-pricing-cost-calculator,
Apache-2.0, by Nils Knieling) lists every Compute Engine machine type under
``compute.instance.<type>`` with ``cpu``, ``ram`` (GiB), bundled GPU counts and
per-region ``cost.<region>.hour`` / ``hour_spot`` prices in USD.  This script keeps
every machine type (vCPUs, memory, bundled GPUs, prices) and writes a deterministic JSON file.

Usage (from the repository root)::

    python tools/refresh_gce_data.py                      # regenerate the committed file
    python tools/refresh_gce_data.py --source NEW_FILE    # refresh from a newer copy
    python tools/refresh_gce_data.py --check              # exit 1 if the committed file is stale
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "prices" / "gce-pricing.yml"
DEFAULT_OUT = REPO_ROOT / "src" / "spotray" / "_data" / "gce_machines.json"
SHAPES_NAME = "gce_machine_shapes.json"  # written next to --out

SOURCE_URL = "https://github.com/Cyclenerd/google-cloud-pricing-cost-calculator"
DERIVED_BY = "tools/refresh_gce_data.py"
PRICE_DECIMALS = 6

# Every machine type of the source is kept (issue 10: the catalog covers the price data). Its
# family is its name without the size: "e2-standard-4" -> "e2-standard", "a3-megagpu-8g" ->
# "a3-megagpu", "c3d-highmem-8-lssd" -> "c3d-highmem" (the -lssd variant, with local SSDs, is a
# machine type of its own), "e2-small" -> "e2", "custom-4-30720" -> "custom".
# GPU count keys used by pricing.yml -> GKE accelerator type names.
# In pricing.yml, a2-highgpu uses ``a100`` (40 GB) and a2-ultragpu uses ``a100-80gb``.
GPU_KEYS = {
    "a100": "nvidia-tesla-a100",
    "a100-80gb": "nvidia-a100-80gb",
    "l4": "nvidia-l4",
    "h100-80gb": "nvidia-h100-80gb",
    "h100-80gb-mega": "nvidia-h100-mega-80gb",
    "rtx6000": "nvidia-rtx-pro-6000",
}

# Keys of an instance entry that are not GPU counts.
NON_GPU_KEYS = frozenset({"cpu", "ram", "cost", "local-ssd", "type"})

# The size suffix: "-4", "-96", or "-1g" for the A2 types.  Variants such as "-lssd" or
# "-metal" make the rest of the name a non-kept family, so they drop out naturally.
_SIZE_SUFFIX = re.compile(r"\d+g?")
# An object with no nested object/array whose members are indented 4+ spaces, i.e. the
# per-region price rows and bundled_gpus (the top-level "source" block stays multi-line).
_INNERMOST_OBJECT = re.compile(r"\{\n {4,}([^{}\[\]\n]*(?:\n {4,}[^{}\[\]\n]*)*?)\n *\}")
_LINE_BREAK = re.compile(r"\n\s*")
_COPYRIGHT_LINE = re.compile(
    r"Copyright\s+(\d{4}(?:-\d{4})?)\s+(.+?)\.?\s*(?:All Rights Reserved\.?)?$"
)


class SourceError(ValueError):
    """The source file does not look like the expected pricing.yml."""


def load_source(path: str | Path) -> dict[str, Any]:
    """Parse the pricing YAML (using the libyaml C loader when available)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, "rb") as fh:
        data = yaml.load(fh, Loader=loader)  # CSafeLoader/SafeLoader only
    if not isinstance(data, dict):
        raise SourceError(f"{path}: top level is not a mapping")
    return data


_FAMILY = re.compile(r"^(?P<family>[a-z0-9]+(?:-[a-z]+[a-z0-9]*)?)(?:-\d.*)?$")


def family_of(machine_type: str) -> str | None:
    """The family of *machine_type* (its name without the size and variant suffixes)."""
    if machine_type.startswith("custom-"):
        return "custom"
    match = _FAMILY.match(machine_type)
    return match["family"] if match else None


def source_block(about: dict[str, Any]) -> dict[str, Any]:
    """Build the provenance block from the file's ``about`` section."""
    try:
        timestamp = int(about["timestamp"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SourceError("about.timestamp missing or not an integer") from exc
    generated = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    # Cross-check against the human-readable stamp (written in UTC upstream).
    text = about.get("generated")
    if isinstance(text, str):
        try:
            parsed = dt.datetime.strptime(text.strip(), "%a %b %d %H:%M:%S %Y")
        except ValueError:
            parsed = None
        if parsed is not None and parsed != generated.replace(tzinfo=None):
            print(
                f"warning: about.generated {text!r} does not match timestamp {timestamp}",
                file=sys.stderr,
            )

    copyright_text = str(about.get("copyright", ""))
    if "Apache License, Version 2.0" not in copyright_text:
        raise SourceError("about.copyright does not carry the Apache License 2.0 notice")
    holder = None
    for line in copyright_text.splitlines():
        match = _COPYRIGHT_LINE.search(line.strip())
        if match:
            holder = f"Copyright {match.group(1)} {match.group(2).rstrip('.')}"
            break
    if holder is None:
        raise SourceError("no 'Copyright YEARS NAME' line in about.copyright")

    return {
        "name": "gce-pricing.yml",
        "url": str(about.get("url") or SOURCE_URL),
        "generated": generated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timestamp": timestamp,
        "license": f"Apache-2.0, {holder}",
        "derived_by": DERIVED_BY,
    }


def _price(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SourceError(f"price {value!r} is not a number")
    return round(float(value), PRICE_DECIMALS)


def machine_entry(name: str, family: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Convert one ``compute.instance`` entry."""
    gpus: dict[str, int] = {}
    for key, value in spec.items():
        if key in NON_GPU_KEYS:
            continue
        if key not in GPU_KEYS:
            raise SourceError(f"{name}: unknown key {key!r} (new GPU type? extend GPU_KEYS)")
        gpus[GPU_KEYS[key]] = int(value)

    prices: dict[str, dict[str, float]] = {}
    for region, cost in (spec.get("cost") or {}).items():
        row = {}
        if cost.get("hour") is not None:
            row["on_demand"] = _price(cost["hour"])
        if cost.get("hour_spot") is not None:
            row["spot"] = _price(cost["hour_spot"])
        if row:
            prices[str(region)] = row

    return {
        "family": family,
        "vcpus": int(spec["cpu"]),
        "memory_gib": spec["ram"],
        "bundled_gpus": gpus,
        "usd_per_hour": prices,
    }


def build(data: dict[str, Any]) -> dict[str, Any]:
    """Build the output document from parsed pricing YAML."""
    try:
        instances = data["compute"]["instance"]
    except (KeyError, TypeError) as exc:
        raise SourceError("no compute.instance section") from exc

    machines = {}
    for name, spec in instances.items():
        family = family_of(str(name))
        if family is not None:
            machines[str(name)] = machine_entry(str(name), family, spec)

    return {"source": source_block(data.get("about") or {}), "machines": machines}


def render(doc: dict[str, Any]) -> str:
    """Serialise deterministically: sorted keys, indent 1, leaf objects of machines on one line.

    Putting each ``{"on_demand": ..., "spot": ...}`` row on one line keeps the file small
    and its diffs readable (one changed line per changed region).
    """
    text = json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=True)
    # Strings never contain raw newlines or braces here, so an object with no nested
    # object or array spans exactly the lines between its braces.
    text = _INNERMOST_OBJECT.sub(lambda m: "{" + _LINE_BREAK.sub(" ", m.group(1)) + "}", text)
    if json.loads(text) != doc:  # pragma: no cover - guards the regex above
        raise AssertionError("compact rendering changed the data")
    return text + "\n"


def render_shapes(doc: dict[str, Any]) -> str:
    """The machine shapes alone (family, vCPUs, memory, bundled GPUs), one type per line: what
    `spotray check` needs, small enough to load in a millisecond (prices load on demand)."""
    lines = [
        f"  {json.dumps(name)}: "
        + json.dumps([m["family"], m["vcpus"], m["memory_gib"], m["bundled_gpus"]], sort_keys=True)
        for name, m in sorted(doc["machines"].items())
    ]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def generate(source: str | Path) -> str:
    """Return the JSON text derived from *source*."""
    return render(build(load_source(source)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source",
        type=Path,
        default=DEFAULT_SOURCE,
        help="pricing YAML (default: ../shared/prices/gce-pricing.yml relative to the repo root)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="output JSON (default: src/spotray/_data/gce_machines.json)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if --out differs from what would be generated",
    )
    args = parser.parse_args(argv)

    try:
        doc = build(load_source(args.source))
    except (OSError, yaml.YAMLError, SourceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    outputs = {args.out: render(doc), args.out.with_name(SHAPES_NAME): render_shapes(doc)}

    if args.check:
        stale = []
        for path, text in outputs.items():
            try:
                current = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                current = None
            if current != text:
                stale.append(path)
        for path in stale:
            print(
                f"{path} is out of date with {args.source}; "
                "run: python tools/refresh_gce_data.py --source ...",
                file=sys.stderr,
            )
        if stale:
            return 1
        print(f"{', '.join(str(p) for p in outputs)} up to date")
        return 0

    args.out.parent.mkdir(parents=True, exist_ok=True)
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
        count = len(doc["machines"])
        print(f"wrote {path} ({count} machine types, {len(text.encode())} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
