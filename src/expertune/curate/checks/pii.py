"""Personal data in responses and prompts (see expertune.curate.pii for what is detected)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from expertune.config import StrictModel
from expertune.curate.findings import CheckResult, Finding, Ref, Severity, Span
from expertune.curate.pii import PLACEHOLDERS, PiiMatch, find_pii
from expertune.curate.registry import check

if TYPE_CHECKING:
    from expertune.curate.runner import CheckContext

NAME = "pii"


class Config(StrictModel):
    kinds: list[str] = Field(default_factory=lambda: list(PLACEHOLDERS))
    prompts: bool = True  # also scan system prompts, earlier turns and prompts
    severity: Severity = "error"

    @field_validator("kinds")
    @classmethod
    def _known(cls, kinds: list[str]) -> list[str]:
        unknown = set(kinds) - set(PLACEHOLDERS)
        if unknown:
            raise ValueError(f"unknown kind(s) {', '.join(sorted(unknown))}; known: {', '.join(PLACEHOLDERS)}")
        return kinds


def _finding(cfg: Config, label: str, ref: Ref, matches: list[tuple[str, PiiMatch]]) -> Finding:
    kinds = Counter(m.kind for _, m in matches)
    summary = ", ".join(f"{k} ×{n}" if n > 1 else k for k, n in kinds.items())
    return Finding(
        NAME, cfg.severity,
        f"{label}: personal data ({summary}); redact it with `expertune redact --apply` or edit it out",
        records=[ref],
        spans=[Span(field, m.start, m.end, ref.group_id, ref.response_id, m.kind) for field, m in matches],
        data={"kinds": dict(kinds)},
    )


@check(NAME, config=Config)
def run(ctx: "CheckContext", cfg: Config) -> CheckResult:
    data = ctx.data
    wanted = set(cfg.kinds)
    result = CheckResult(NAME)
    totals: Counter[str] = Counter()
    for i, item in enumerate(data.items):
        matches = [("response", m) for m in find_pii(item.text) if m.kind in wanted]
        if matches:
            totals.update(m.kind for _, m in matches)
            result.findings.append(_finding(cfg, f"response {item.id}", data.ref(i), matches))
    if cfg.prompts:
        for gi, g in enumerate(data.groups):
            fields = [("system", g.system or ""), *((f"context.{n}", t.get("content") or "") for n, t in enumerate(g.context)),
                      ("prompt", g.prompt)]
            matches = [(name, m) for name, text in fields for m in find_pii(text) if m.kind in wanted]
            if matches:
                totals.update(m.kind for _, m in matches)
                result.findings.append(_finding(cfg, f"prompt group {g.id}", data.gref(gi), matches))
    result.stats = {"items": dict(totals)}
    return result
