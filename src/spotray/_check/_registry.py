"""The rule registry: one class per rule, registered under a stable code that is never reused.

A rule's docstring is its documentation, in fixed sections (`What it does`, `Why is this bad?`,
`Example`, `Use instead`); `spotray rule CODE` prints it and docs/rules.md is generated from it.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import ClassVar

from ._finding import Finding, Severity

RULES: dict[str, type[Rule]] = {}
SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead")


class Rule:
    """Base class: subclasses set the class attributes and implement `check`."""

    code: ClassVar[str]
    name: ClassVar[str]  # kebab-case, e.g. "head-on-spot"
    severity: ClassVar[Severity]
    fix: ClassVar[str]  # one line: what to change
    # the KubeRay 1.7 checks the rule restates, as "where in KubeRay: what" (SR1xx; docs/rules.md)
    kuberay: ClassVar[tuple[str, ...]] = ()

    def check(self, ctx) -> Iterator[Finding]:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def doc(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def finding(cls, ctx_doc, path, message: str, *, severity: Severity | None = None) -> Finding:
        """A finding at `path` inside a located document (or a (file, line) pair)."""
        if isinstance(ctx_doc, tuple):
            file, line, column = (*ctx_doc, None)[:3]
        else:
            file = ctx_doc.file
            line, column = ctx_doc.locate(path)
        return Finding(
            code=cls.code,
            severity=severity or cls.severity,
            message=message,
            file=file,
            line=line,
            column=column,
            fix=cls.fix,
        )


def register(cls: type[Rule]) -> type[Rule]:
    """Class decorator: add a rule to `RULES`, refusing duplicate codes or missing docs."""
    if cls.code in RULES:
        raise ValueError(f"rule code {cls.code} is already used by {RULES[cls.code].__name__}")
    missing = [s for s in SECTIONS if f"{s}\n" not in cls.doc() + "\n"]
    if missing:
        raise ValueError(f"rule {cls.code} docstring lacks sections: {missing}")
    RULES[cls.code] = cls
    return cls


def code_prefixes(values: list[str] | None, flag: str) -> list[str]:
    """Code prefixes from repeated flags and comma-separated lists (`SR1,SR5`), as ruff takes
    them; a prefix that names no rule (`SR9`, `E501`) is an InputError, never a silent no-op."""
    from .._errors import InputError

    out = []
    for value in values or []:
        for part in str(value).split(","):
            prefix = part.strip().upper()
            if not prefix:
                continue
            if prefix != "ALL" and not any(code.startswith(prefix) for code in RULES):
                raise InputError(f"{flag} {part.strip()!r}: no rule code starts with it")
            out.append(prefix)
    return out


def select_rules(select: list[str] | None, ignore: list[str] | None) -> list[type[Rule]]:
    """Rules whose code starts with a `select` prefix (default: all) and with no `ignore` prefix.
    Each list may hold comma-separated prefixes; `ALL` selects every rule."""
    chosen_prefixes = code_prefixes(select, "--select")
    ignored = code_prefixes(ignore, "--ignore")
    chosen = []
    for code in sorted(RULES):
        if (
            chosen_prefixes
            and "ALL" not in chosen_prefixes
            and not any(code.startswith(p) for p in chosen_prefixes)
        ):
            continue
        if any(code.startswith(p) for p in ignored) or "ALL" in ignored:
            continue
        chosen.append(RULES[code])
    return chosen
