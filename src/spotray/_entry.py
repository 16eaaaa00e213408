"""The `spotray` console script: `spotray check` goes straight to the checker (no typer, rich
or pydantic to import: it starts in about the time it takes to parse its files); everything
else, and `spotray check --help`, goes through the typer CLI."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["check"] and not {"-h", "--help"} & set(args):
        from ._check._cli import main as check

        try:
            return check(args[1:])
        except KeyboardInterrupt:
            print("aborted", file=sys.stderr)
            return 130
    from .cli import main as cli

    return cli(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
