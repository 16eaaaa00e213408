"""`spotray check` as a command, without typer or rich, so the check path starts fast.

The typer CLI (`spotray.cli`) shows `spotray check --help` and calls `run` too, so both ways in
behave alike; `spotray._entry` sends `spotray check ...` here directly.
"""

from __future__ import annotations

import argparse
import sys

FORMATS = ("text", "json", "sarif")
LEVELS = ("error", "warning", "info")


def run(
    paths: list[str],
    *,
    spec: str | None = None,
    pools: list[str] | None = None,
    var_files: list[str] | None = None,
    variables: list[str] | None = None,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    output_format: str = "text",
    fail_on: str = "error",
    autopilot: bool = False,
    gates: list[str] | None = None,
) -> int:
    """Check the files (or what a spec renders), print the findings; the exit code: 0 clean,
    1 findings at or above `fail_on`, 2 bad input (one `error: ...` line per problem)."""
    from .._errors import SpecError, SpotrayError

    try:
        findings = _findings(
            paths, spec, pools, var_files, variables, select, ignore, autopilot, gates
        )
    except SpecError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"{len(exc.problems)} problem(s); nothing written.", file=sys.stderr)
        return exc.exit_code
    except SpotrayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    from . import _output
    from ._finding import Severity

    if output_format == "json":
        text = _output.to_json(findings)
    elif output_format == "sarif":
        from .. import __version__

        text = _output.to_sarif(findings, version=__version__)
    else:
        text = _output.to_text(findings)
    sys.stdout.write(text)
    threshold = Severity[fail_on.upper()]
    return 1 if any(f.severity >= threshold for f in findings) else 0


def _findings(paths, spec, pools, var_files, variables, select, ignore, autopilot, gates):
    from .._errors import InputError
    from . import check_spec, parse_pool_flag, read_paths, run_checks
    from ._kuberay import parse_gates

    operator_gates = parse_gates(gates)

    if spec is None and not paths:
        raise InputError("give files to check, or --spec SPEC")
    if spec is not None:
        from .._spec import load_spec

        return check_spec(load_spec(spec), select=select, ignore=ignore, gates=operator_gates)
    docs = read_paths(paths, var_files=var_files or [], variables=variables or [])
    docs.gates = operator_gates
    for value in pools or []:
        docs.pools.append(parse_pool_flag(value))
        docs.pools_given = True
    if autopilot:
        from ._autopilot import use_autopilot

        use_autopilot(docs)
    return run_checks(docs, select=select, ignore=ignore)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spotray check", add_help=False)
    p.add_argument("paths", nargs="*")
    p.add_argument("--spec")
    for flag in (
        "--pool",
        "--var-file",
        "--var",
        "--select",
        "--ignore",
        "--kuberay-feature-gates",
    ):
        p.add_argument(flag, action="append")
    p.add_argument("--output-format", choices=FORMATS, default="text")
    p.add_argument("--fail-on", choices=LEVELS, default="error")
    p.add_argument("--autopilot", action="store_true")
    return p


def main(argv: list[str]) -> int:
    """`spotray check ARGV...`; usage errors exit 2 as typer's do."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # argparse printed the usage error
        return int(exc.code or 2)
    return run(
        args.paths,
        spec=args.spec,
        pools=args.pool,
        var_files=args.var_file,
        variables=args.var,
        select=args.select,
        ignore=args.ignore,
        output_format=args.output_format,
        fail_on=args.fail_on,
        autopilot=args.autopilot,
        gates=args.kuberay_feature_gates,
    )
