"""JSON over HTTP to the local cluster's controller (used by the node provider and the CLI)."""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request


def call(url: str, method: str = "GET", body: dict | None = None, timeout: float = 10.0):
    """A JSON request to the controller; raises RuntimeError with its message on errors."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        with contextlib.suppress(ValueError, AttributeError):
            detail = json.loads(detail).get("error", detail)
        raise RuntimeError(f"{method} {url}: {exc.code}: {detail}") from None
