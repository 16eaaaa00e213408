"""Range checks for numeric options, shared by the CLI and the Python API.

NaN compares false with everything, so `x <= 0` lets it through; every check here first asks
for a finite number. Each raises InputError (exit 2) naming the option.
"""

from __future__ import annotations

import math

from ._errors import InputError


def finite(
    name: str,
    value: float,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> float:
    """`value` if it is a finite number within [low, high] ((low, high] with `low_open`)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise InputError(f"{name}: must be a finite number, not {value!r}")
    if low is not None and (number <= low if low_open else number < low):
        bound = f"greater than {low:g}" if low_open else f"at least {low:g}"
        raise InputError(f"{name}: must be {bound}, not {value!r}")
    if high is not None and number > high:
        raise InputError(f"{name}: must be at most {high:g}, not {value!r}")
    return number


def positive(name: str, value: float, *, high: float | None = None) -> float:
    return finite(name, value, low=0, low_open=True, high=high)


def share(name: str, value: float) -> float:
    """A fraction of a group: in (0, 1]."""
    return finite(name, value, low=0, low_open=True, high=1)


def count(name: str, value: int, *, low: int = 1, high: int | None = None) -> int:
    """A whole number within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{name}: {value!r} is not a whole number")
    if value < low or (high is not None and value > high):
        upper = f" and at most {high}" if high is not None else ""
        raise InputError(f"{name}: must be at least {low}{upper}, not {value}")
    return value
