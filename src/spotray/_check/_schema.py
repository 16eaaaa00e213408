"""A validator for Kubernetes structural schemas (the OpenAPI v3 subset CRDs use).

KubeRay's CRD uses `type`, `properties`, `required`, `items`, `additionalProperties`, `enum`,
`pattern`, `anyOf`, `format` (int32/int64), `minimum`, `min/maxLength`, `nullable` and
`x-kubernetes-int-or-string`. This module implements exactly those, the way the API server
applies them, and reports every violation with its path, so a finding can point at the line.
A field the schema does not know is reported too: `kubectl apply` rejects it (strict field
validation), while the API server alone would silently drop it. The tests compare this
validator with jsonschema on the KubeRay samples and on generated documents.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from .._yaml import Path

_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


@dataclass(frozen=True)
class Violation:
    path: Path
    message: str
    unknown_field: bool = False


@cache
def raycluster_schema() -> dict:
    """The packaged KubeRay 1.7 RayCluster v1 schema (see `_data/SOURCE.md`)."""
    text = resources.files("spotray._data").joinpath("raycluster_v1_schema.json").read_text()
    return json.loads(text)["schema"]


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def validate(value: Any, schema: dict, path: Path = ()) -> Iterator[Violation]:
    """Every violation of `schema` by `value`, outermost first."""
    if value is None:
        return  # the API server drops nulls of non-nullable fields before validating
    int_or_string = schema.get("x-kubernetes-int-or-string")
    if int_or_string and not (_TYPES["integer"](value) or isinstance(value, str)):
        yield Violation(path, f"must be an integer or a string, not {_show(value)}")
        return
    kind = schema.get("type")
    if kind and not _TYPES[kind](value):
        yield Violation(path, f"must be of type {kind}, not {_show(value)}")
        return
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(_show(c) for c in schema["enum"])
        yield Violation(path, f"must be one of {choices}, not {_show(value)}")
    if "anyOf" in schema and not any(
        next(validate(value, option, path), None) is None for option in schema["anyOf"]
    ):
        yield Violation(path, f"{_show(value)} matches none of the allowed forms")
        return
    if isinstance(value, str):
        yield from _string(value, schema, path)
    elif _TYPES["number"](value):
        yield from _number(value, schema, path)
    elif isinstance(value, dict):
        yield from _object(value, schema, path)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            yield from validate(item, schema["items"], (*path, i))


def _string(value: str, schema: dict, path: Path) -> Iterator[Violation]:
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        yield Violation(path, f"must be at most {schema['maxLength']} characters long")
    if "minLength" in schema and len(value) < schema["minLength"]:
        yield Violation(path, f"must be at least {schema['minLength']} characters long")
    if "pattern" in schema and not _regex(schema["pattern"]).search(value):
        yield Violation(path, f"{_show(value)} does not match {schema['pattern']}")


def _number(value: int | float, schema: dict, path: Path) -> Iterator[Violation]:
    bounds = _INT_RANGES.get(schema.get("format", ""))
    if bounds and isinstance(value, int) and not bounds[0] <= value <= bounds[1]:
        yield Violation(path, f"{value} is out of range for {schema['format']}")
    if "minimum" in schema and value < schema["minimum"]:
        yield Violation(path, f"must be at least {schema['minimum']}, not {value}")


def _object(value: dict, schema: dict, path: Path) -> Iterator[Violation]:
    properties = schema.get("properties")
    for name in schema.get("required", ()):
        # the API server fills `default`s before it validates
        if value.get(name) is None and "default" not in (properties or {}).get(name, {}):
            yield Violation(path, f"required field {name!r} is missing")
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        if properties is not None and key in properties:
            yield from validate(item, properties[key], (*path, key))
        elif isinstance(extra, dict):
            yield from validate(item, extra, (*path, key))
        elif properties is not None and extra is None:
            yield Violation((*path, key), f"unknown field {key!r}", unknown_field=True)
