"""JSON over HTTP to the local cluster's controller (used by the node provider and the CLI)."""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request

from .._errors import SpotrayError


class ControllerError(SpotrayError):
    """The controller refused a request (exit 2: bad input) or could not be reached (exit 1)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.exit_code = 2 if status == 400 else 1


def call(
    url: str,
    method: str = "GET",
    body: dict | None = None,
    *,
    secret: str,
    timeout: float = 10.0,
):
    """A JSON request to the controller, with its bearer secret; raises ControllerError with
    the controller's message on errors."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {secret}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        with contextlib.suppress(ValueError, AttributeError):
            detail = json.loads(detail).get("error", detail)
        raise ControllerError(str(detail), exc.code) from None
    except (OSError, ValueError) as exc:  # refused, reset, timed out, not JSON
        raise ControllerError(
            f"the local cluster's controller at {url} did not answer: {exc}"
        ) from None
