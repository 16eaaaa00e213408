"""`spotray render` and `spotray check`, whole process, against another commit, in one session.

Whole-process timings on this machine vary by ±30% between runs, so two separate runs prove
nothing. This bench checks out REF (default: HEAD~1) into a temporary git worktree and times
both source trees with the same interpreter and installed dependencies (PYTHONPATH picks the
tree), alternating run by run (A B A B ...), and prints each median and the ratio now / REF.

Run: .venv/bin/python bench/vs_commit.py [REF] [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seed"
CLI = "import sys; from spotray.cli import main; sys.exit(main())"


def commands(tree: Path, out: Path) -> dict[str, list[str]]:
    spec = str(tree / "examples" / "seed.yaml")
    return {
        "render (seed, to a directory)": ["render", spec, "-o", str(out)],
        "check (the article's files)": [
            "check",
            str(SEED / "ray-cluster.yaml"),
            str(SEED / "nodepool.tf"),
        ],
        "check --spec (recommended)": ["check", "--spec", str(tree / "examples/recommended.yaml")],
    }


def timed(tree: Path, argv: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", CLI, *argv], env=env, capture_output=True, check=False)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("ref", nargs="?", default="HEAD~1")
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), args.ref],
            check=True,
            capture_output=True,
        )
        try:
            sha = subprocess.run(
                ["git", "-C", str(base), "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            print(f"now: {ROOT} (working tree)   base: {args.ref} = {sha}   runs: {args.runs}")
            now_cmds = commands(ROOT, Path(tmp) / "out-now")
            base_cmds = commands(base, Path(tmp) / "out-base")
            for name in now_cmds:
                now, before = [], []
                for _ in range(args.runs):  # alternate, so drift hits both alike
                    now.append(timed(ROOT, now_cmds[name]))
                    before.append(timed(base, base_cmds[name]))
                a, b = statistics.median(now), statistics.median(before)
                print(
                    f"{name:32s} now {a * 1000:6.0f} ms   base {b * 1000:6.0f} ms   "
                    f"ratio {a / b:.3f}"
                )
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                capture_output=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
