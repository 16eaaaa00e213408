"""spotray's exceptions. The library raises these; only the CLI prints them.

    SpotrayError                 base class: anything spotray refuses to do
    ├── SpecError                one or more problems in a spec, each with file, line, column, field
    ├── InputError               a document (YAML, HCL) that cannot be read at all
    └── OutputError              a render that could not be written

A `SpecError` carries a list of `Problem`s, so that every problem in a spec is reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem in an input file, located as precisely as the parser allows."""

    message: str
    file: str = "<spec>"
    line: int | None = None
    column: int | None = None
    field: str = ""

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class SpotrayError(Exception):
    """Base class of every error spotray raises on purpose."""

    exit_code = 2


class SpecError(SpotrayError):
    """A spec that is not valid; `problems` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class InputError(SpotrayError):
    """A file that cannot be read or parsed."""


class OutputError(SpotrayError):
    """Rendered files that could not be written."""
