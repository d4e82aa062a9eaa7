"""What checks report: findings (check, severity, message, records, spans) and the report over all checks."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
RANK = {"info": 0, "warning": 1, "error": 2}


@dataclass
class Ref:
    """A record a finding concerns: a response (with its group) or a prompt group, with its split."""

    group_id: int | None
    response_id: int | None = None
    split: str | None = None


@dataclass
class Span:
    """Characters [start, end) of one text of a record, to highlight in the report.

    `field` names the text: "response", "prompt", "system" or "context.N" (N-th earlier turn).
    """

    field: str
    start: int
    end: int
    group_id: int | None = None
    response_id: int | None = None
    label: str | None = None


@dataclass
class Finding:
    check: str
    severity: Severity
    message: str
    records: list[Ref] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def response_ids(self) -> list[int]:
        return [r.response_id for r in self.records if r.response_id is not None]

    @property
    def group_ids(self) -> list[int]:
        return sorted({r.group_id for r in self.records if r.group_id is not None})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CheckResult:
    check: str
    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class CheckReport:
    """Results of a run of checks; `data` keeps the texts for the HTML report (not serialised)."""

    results: list[CheckResult]
    source: dict[str, Any]
    data: Any = None

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings]

    def counts(self) -> dict[str, dict[str, int]]:
        """{check: {severity: number of findings}} for every check that ran."""
        out: dict[str, dict[str, int]] = {r.check: {} for r in self.results}
        for f in self.findings:
            out[f.check][f.severity] = out[f.check].get(f.severity, 0) + 1
        return out

    def summary(self) -> list[dict[str, Any]]:
        """One row per (check, severity) with findings, plus a row for clean checks."""
        rows = []
        for r in self.results:
            by_sev = Counter(f.severity for f in r.findings)
            if not by_sev:
                rows.append({"check": r.check, "severity": "ok", "count": 0, "records": []})
            for sev in SEVERITIES:
                if by_sev.get(sev):
                    refs = [ref for f in r.findings if f.severity == sev for ref in f.records]
                    rows.append({"check": r.check, "severity": sev, "count": by_sev[sev], "records": refs})
        return rows

    def at_or_above(self, severity: str) -> list[Finding]:
        return [f for f in self.findings if RANK[f.severity] >= RANK[severity]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "summary": [{**row, "records": [asdict(x) for x in row["records"]]} for row in self.summary()],
            "checks": {
                r.check: {"seconds": round(r.seconds, 3), "stats": r.stats, "findings": [f.as_dict() for f in r.findings]}
                for r in self.results
            },
        }


def ref_label(ref: Ref) -> str:
    """Short id for tables: r12 (response 12), g3 (group 3)."""
    return f"r{ref.response_id}" if ref.response_id is not None else f"g{ref.group_id}"
