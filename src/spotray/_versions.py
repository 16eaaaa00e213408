"""Ray versions: parsing, and the versions KubeRay 1.7 ties features to."""

from __future__ import annotations

import re

# KubeRay 1.7 controllers/ray/utils/validation.go: authOptions.mode token needs Ray >= 2.52.0
TOKEN_AUTH_MIN_RAY = (2, 52)


def version_tuple(text: object) -> tuple[int, ...] | None:
    """(major, minor[, patch]) of a Ray version or image tag such as `2.41.0-py311`."""
    m = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", str(text or ""))
    return tuple(int(x) for x in m.groups() if x is not None) if m else None


def format_version(version: tuple[int, ...]) -> str:
    return ".".join(map(str, (*version, 0, 0)[:3]))


_GENERIC = re.compile(r"^\s*v?([0-9]+(?:\.[0-9]+)*)(.*)$", re.S)


def kuberay_version(text: object) -> tuple[int, ...] | None:
    """A version as KubeRay reads `rayVersion` (apimachinery's ParseGeneric): leading spaces
    and a `v` allowed, numeric dot-separated components, anything after them ignored; a
    zero-prefixed component (`02`) is illegal. None where KubeRay cannot parse it."""
    m = _GENERIC.match(str(text)) if isinstance(text, str) else None
    if m is None:
        return None
    parts = m.group(1).split(".")
    if any(len(p) > 1 and p[0] == "0" for p in parts):
        return None
    return tuple(int(p) for p in parts)
