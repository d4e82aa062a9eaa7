"""The curation gate training passes through: every check but confidence, errors stop training.

    report = run_gate(ws, allow=["leakage"], max_length=recipe.max_length, base_model=recipe.base_model)

Checks named in `allow` still run; their errors are downgraded to warnings (marked "allowed") so
the run record shows what was let through.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from expertune.curate.checks import check_names, model_checks
from expertune.curate.findings import CheckReport, Finding, ref_label
from expertune.curate.runner import Progress, parse_check_names, run_checks
from expertune.errors import ExpertuneError
from expertune.workspace import Workspace


def gate_checks() -> tuple[str, ...]:
    """Every check but the model-based ones (confidence), plugins' included, in the standard order."""
    using_model = model_checks()
    return tuple(n for n in check_names() if n not in using_model)


class GateFailed(ExpertuneError):
    exit_code = 2

    def __init__(self, message: str, report: "GateReport"):
        super().__init__(message)
        self.report = report


@dataclass
class GateReport:
    report: CheckReport
    allowed: list[str] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return self.report.findings

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def passed(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "allowed": self.allowed, **self.report.as_dict()}


def run_gate(
    ws: Workspace,
    *,
    allow: Iterable[str] = (),
    max_length: int | None = None,
    base_model: str | None = None,
    dataset_version: str | None = None,
    progress: Progress | None = None,
) -> GateReport:
    """Run the gate checks; raise GateFailed listing each failing check unless all errors are allowed."""
    allowed = parse_check_names(list(allow), option="--allow") if allow else []
    report = run_checks(ws, only=gate_checks(), max_length=max_length, base_model=base_model,
                        dataset_version=dataset_version, progress=progress)
    for f in report.findings:
        if f.check in allowed and f.severity == "error":
            f.severity = "warning"
            f.data["allowed"] = True
    gate = GateReport(report, allowed)
    if not gate.passed:
        raise GateFailed(_message(gate), gate)
    return gate


def _message(gate: GateReport) -> str:
    by_check = Counter(f.check for f in gate.errors)
    lines = ["curation gate failed: training data has errors"]
    for check, n in by_check.items():
        refs = [ref_label(r) for f in gate.errors if f.check == check for r in f.records]
        shown = ", ".join(dict.fromkeys(refs[:8])) + (" …" if len(refs) > 8 else "")
        first = next(f.message for f in gate.errors if f.check == check)
        lines.append(f"  {check}: {n} error{'s' if n > 1 else ''} ({shown}); e.g. {first}")
    lines.append("Run `expertune check --html report.html` to see every finding; fix the data (`expertune redact`, "
                 "`expertune fix artefacts`, `expertune response edit`), or pass --allow CHECK to train anyway "
                 f"(e.g. --allow {next(iter(by_check))}).")
    return "\n".join(lines)
