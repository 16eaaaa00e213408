"""Kubernetes resource quantities ("500m", "4G", "12Gi", "1e3") as exact numbers.

Only the forms the Kubernetes API accepts are accepted: a signed decimal number with an optional
binary suffix (Ki Mi Gi Ti Pi Ei), decimal suffix (n u m k M G T P E) or decimal exponent.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(?:\d+\.?\d*|\.\d+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$"
)

MIB = 2**20
_MAX_EXPONENT = 30


def parse_quantity(text: str | int | float) -> Decimal:
    """Return the value of a Kubernetes quantity; raise `ValueError` if it is not one."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (e.g. '500m', '4G', '12Gi')")
    try:
        number = Decimal(match["num"])
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid numbers
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from exc
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    exponent = int(suffix[1:])
    if abs(exponent) > _MAX_EXPONENT:  # Kubernetes itself caps quantities far below this
        raise ValueError(f"{text!r} is out of range for a Kubernetes quantity")
    return number * Decimal(10) ** exponent


def cpu_millis(text: str | int | float) -> int:
    """CPU quantity in millicores, rounded up as the kubelet does."""
    value = parse_quantity(text) * 1000
    return int(value.to_integral_value(rounding="ROUND_CEILING"))


def memory_bytes(text: str | int | float) -> int:
    """Memory quantity in bytes, rounded up."""
    return int(parse_quantity(text).to_integral_value(rounding="ROUND_CEILING"))


def format_cpu(millis: int) -> str:
    """Millicores as the shortest Kubernetes quantity: 2000 -> '2', 1500 -> '1500m'."""
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def format_memory(n_bytes: int) -> str:
    """Bytes as a Kubernetes quantity in whole MiB or GiB, rounded down."""
    mib = n_bytes // MIB
    return f"{mib // 1024}Gi" if mib % 1024 == 0 and mib else f"{mib}Mi"
