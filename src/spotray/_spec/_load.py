"""Read a spec file: YAML → `Spec`, with every problem located at file:line:column and field."""

from __future__ import annotations

import os

from pydantic import ValidationError

from .._errors import Problem, SpecError
from .._io import read_input
from .._versions import TOKEN_AUTH_MIN_RAY, format_version
from .._yaml import Document, Path, load_document
from ._models import Spec


def field_path(path: Path) -> str:
    """`("workers", 0, "cpu")` → `workers[0].cpu`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def located(doc: Document, path: Path, message: str, *, key: bool = False) -> Problem:
    """A `Problem` at `path` in `doc`."""
    line, column = doc.locate(path, key=key)
    return Problem(message, file=doc.file, line=line, column=column, field=field_path(path))


def _pydantic_problems(doc: Document, exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        path = tuple(
            p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))
        )
        kind = err["type"]
        message = err["msg"].removeprefix("Value error, ")
        if kind == "extra_forbidden":
            message = "unknown field"
        elif kind == "missing":
            message = "required field is missing"
        elif "input" in err and kind not in ("value_error", "assertion_error"):
            message += f" (got {err['input']!r})"
        problems.append(located(doc, path, message, key=kind == "extra_forbidden"))
    return problems


def _semantic_problems(doc: Document, spec: Spec) -> list[Problem]:
    """Cross-field problems that pydantic cannot place precisely."""
    problems = []
    names: dict[str, int] = {}
    pools: dict[str, int] = {}
    head_pool = spec.head.pool or "ray-head"
    for i, group in enumerate(spec.workers):
        if group.name in names:
            problems.append(
                located(
                    doc,
                    ("workers", i, "name"),
                    f"duplicate group name {group.name!r} (also workers[{names[group.name]}])",
                )
            )
        names.setdefault(group.name, i)
        pool = group.pool or group.name
        where = ("workers", i, "pool" if group.pool else "name")
        if pool in pools:
            problems.append(
                located(
                    doc,
                    where,
                    f"node pool {pool!r} is also used by workers[{pools[pool]}]; "
                    "give each group its own pool",
                )
            )
        elif pool == head_pool:
            problems.append(located(doc, where, f"node pool {pool!r} is the head's pool"))
        pools.setdefault(pool, i)
    if spec.security.token_auth and not spec.ray.supports_token_auth:
        problems.append(
            located(
                doc,
                ("security", "token_auth"),
                f"Ray {spec.ray.version} has no token authentication: KubeRay 1.7 needs Ray "
                f">= {format_version(TOKEN_AUTH_MIN_RAY)} for authOptions.mode token (upgrade Ray, or drop this)",
            )
        )
    return problems


def spec_from_document(doc: Document) -> Spec:
    """Validate a parsed YAML document as a `Spec`."""
    if not isinstance(doc.data, dict):
        raise SpecError([located(doc, (), "a spec must be a YAML mapping")])
    try:
        spec = Spec.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError(_pydantic_problems(doc, exc)) from None
    problems = _semantic_problems(doc, spec)
    if problems:
        raise SpecError(problems)
    spec._source = doc
    return spec


def load_spec(source: str | os.PathLike[str], *, text: str | None = None) -> Spec:
    """Load and validate a spec.

    Args:
        source: path of a spec YAML file (or, with `text`, the name to report in messages).
        text: the YAML itself, if it does not come from a file.

    Returns:
        The validated `Spec`.

    Raises:
        SpecError: the spec is invalid; `problems` lists each problem with file, line and field.
        InputError: the file cannot be read or is not YAML.
    """
    name = os.fspath(source)
    if text is None:
        text = read_input(name, what="spec file")
    return spec_from_document(load_document(text, file=name))
