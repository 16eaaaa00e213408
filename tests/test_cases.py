"""The rule corpus in tests/cases: every file says what it must yield (`# expect: CODE ...`).

`good/` holds realistic clusters that must give no error or warning (security rules
included: they are hardened as `spotray render` would make them); `bad/` holds one hand-written
case per rule, named after the rule it exercises (cases of other families are not hardened, so
their SR7xx findings are left out). A case is one file: a RayCluster
(or RayJob/RayService) with its node pools as a `nodePools:` document, or a Terraform file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spotray._check import RULES, Severity, read_paths, run_checks

CASES = Path(__file__).resolve().parent / "cases"
INPUT_NOTES = {"SR001", "SR002"}  # about what was given, not about the documents
SECURITY = "SR7"  # orthogonal to every other family: bad cases of others need not be hardened


def _cases(folder: str) -> list[Path]:
    return sorted(p for p in (CASES / folder).iterdir() if p.suffix in (".yaml", ".tf"))


def expected(path: Path) -> list[str]:
    match = re.search(r"^# expect:(.*)$", path.read_text(), re.M)
    assert match, f"{path.name} has no '# expect:' line"
    return sorted(match[1].split())


def found(path: Path) -> list[str]:
    findings = run_checks(read_paths([str(path)]))
    codes = [f.code for f in findings if f.code not in INPUT_NOTES or "SR00" in path.name]
    if path.parent.name == "bad" and not path.name.startswith(SECURITY):
        codes = [c for c in codes if not c.startswith(SECURITY)]
    return sorted(codes)


@pytest.mark.parametrize("path", _cases("bad"), ids=lambda p: p.name)
def test_bad_case_yields_exactly_what_it_expects(path):
    assert found(path) == expected(path)
    assert path.name.split("-")[0] in expected(path), "a bad case must trigger its own rule"


@pytest.mark.parametrize("path", _cases("good"), ids=lambda p: p.name)
def test_good_case_has_no_error_or_warning(path):
    assert found(path) == expected(path)
    findings = run_checks(read_paths([str(path)]))
    assert not [f for f in findings if f.severity >= Severity.WARNING]


def test_every_rule_has_a_bad_case():
    covered = {p.name.split("-")[0] for p in _cases("bad")}
    assert sorted(set(RULES) - covered) == []
