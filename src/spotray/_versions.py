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
