"""Findings as text, JSON or SARIF 2.1.0 (for code-scanning UIs)."""

from __future__ import annotations

import json

from ._finding import Finding, Severity
from ._registry import RULES

SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/spotray/spotray"


def to_text(findings: list[Finding]) -> str:
    lines = [str(f) + (f"\n    fix: {f.fix}" if f.fix else "") for f in findings]
    counts = {s: sum(f.severity == s for f in findings) for s in Severity}
    summary = ", ".join(f"{counts[s]} {s}" for s in reversed(Severity))
    lines.append(f"{len(findings)} finding(s): {summary}")
    return "\n".join(lines) + "\n"


def to_json(findings: list[Finding]) -> str:
    return (
        json.dumps(
            [
                {
                    "code": f.code,
                    "severity": str(f.severity),
                    "message": f.message,
                    "file": f.file,
                    "line": f.line,
                    "column": f.column,
                    "fix": f.fix,
                }
                for f in findings
            ],
            indent=2,
        )
        + "\n"
    )


def to_sarif(findings: list[Finding], *, version: str) -> str:
    codes = sorted({f.code for f in findings})
    index = {code: i for i, code in enumerate(codes)}
    rules = []
    for code in codes:
        rule = RULES[code]
        rules.append(
            {
                "id": code,
                "name": rule.name,
                "shortDescription": {"text": rule.doc().splitlines()[0]},
                "fullDescription": {"text": rule.doc()},
                "help": {"text": rule.fix},
                "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity]},
            }
        )
    results = []
    for f in findings:
        location: dict = {"artifactLocation": {"uri": f.file}}
        if f.line:
            location["region"] = {"startLine": f.line}
            if f.column:
                location["region"]["startColumn"] = f.column
        results.append(
            {
                "ruleId": f.code,
                "ruleIndex": index[f.code],
                "level": SARIF_LEVEL[f.severity],
                "message": {"text": f.message},
                "locations": [{"physicalLocation": location}],
            }
        )
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "spotray",
                        "version": version,
                        "informationUri": INFO_URI,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
