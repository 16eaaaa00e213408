"""The rule corpus in tests/cases.

`bad/` holds one hand-written case per rule, named after the rule it exercises. Each case is
checked with its own rule alone (`--select CODE`), and says exactly what that rule must report,
one line per finding: `# expect: CODE line N: message`. So a new rule, or a change to another
rule, never edits an unrelated case. `good/` holds realistic clusters that must give no error or
warning from any rule (security rules included: they are hardened as `spotray render` would make
them); their `# expect:` line lists every code all rules report.

A case is one file: a RayCluster (or RayJob/RayService) with its node pools as a `nodePools:`
document, or a Terraform file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spotray._check import RULES, Severity, read_paths, run_checks

CASES = Path(__file__).resolve().parent / "cases"
INPUT_NOTES = {"SR001", "SR002", "SR003"}  # about what was given, not about the documents
_EXPECT = re.compile(r"^# expect: (SR\d{3})(?: line (\d+))?: (.*)$", re.M)


def _cases(folder: str) -> list[Path]:
    return sorted(p for p in (CASES / folder).iterdir() if p.suffix in (".yaml", ".tf"))


def expected(path: Path) -> list[str]:
    match = re.search(r"^# expect:(.*)$", path.read_text(), re.M)
    assert match, f"{path.name} has no '# expect:' line"
    return sorted(match[1].split())


def found(path: Path) -> list[str]:
    findings = run_checks(read_paths([str(path)]))
    return sorted(f.code for f in findings if f.code not in INPUT_NOTES)


@pytest.mark.parametrize("path", _cases("bad"), ids=lambda p: p.name)
def test_bad_case_yields_exactly_what_its_own_rule_expects(path):
    code = path.name.split("-")[0]
    want = [(c, int(n) if n else None, m) for c, n, m in _EXPECT.findall(path.read_text())]
    assert want, f"{path.name}: no '# expect: CODE line N: message' line"
    assert {c for c, _, _ in want} == {code}, "a bad case states only its own rule's findings"
    got = [(f.code, f.line, f.message) for f in run_checks(read_paths([str(path)]), select=[code])]
    assert got == want


@pytest.mark.parametrize("path", _cases("good"), ids=lambda p: p.name)
def test_good_case_has_no_error_or_warning(path):
    assert found(path) == expected(path)
    findings = run_checks(read_paths([str(path)]))
    assert not [f for f in findings if f.severity >= Severity.WARNING]


def test_every_rule_has_a_bad_case():
    covered = {p.name.split("-")[0] for p in _cases("bad")}
    assert sorted(set(RULES) - covered) == []
