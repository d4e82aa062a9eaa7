"""Exact duplicates after normalisation (case, punctuation, spacing) of responses and of prompts.

Import already skips byte-identical responses within a group, so what remains here are copies that
differ only in form, and the same answer given to different prompts.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from pydantic import Field

from expertune.config import StrictModel
from expertune.curate.findings import CheckResult, Finding, Severity
from expertune.curate.registry import check

if TYPE_CHECKING:
    from expertune.curate.runner import CheckContext

NAME = "duplicates"


class Config(StrictModel):
    # Shorter texts ("Yes.", "See above.") repeat legitimately and are not reported.
    min_words: int = Field(3, ge=1)
    severity: Severity = "warning"


def _clusters(keys: list[str], min_words: int) -> list[list[int]]:
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        if k and k.count(" ") + 1 >= min_words:
            by_key[k].append(i)
    return [idx for idx in by_key.values() if len(idx) > 1]


@check(NAME, config=Config)
def run(ctx: "CheckContext", cfg: Config) -> CheckResult:
    data = ctx.data
    result = CheckResult(NAME)
    for idx in _clusters(data.response_norm, cfg.min_words):
        groups = sorted({data.groups[data.items[i].group].id for i in idx})
        scope = "within-group" if len(groups) == 1 else "cross-group"
        where = f"within group {groups[0]}" if len(groups) == 1 else f"across groups {', '.join(map(str, groups))}"
        result.findings.append(Finding(
            NAME, cfg.severity,
            f"{len(idx)} responses are identical after normalising case, punctuation and spacing ({where}); "
            "keep one (reject the others with `expertune response edit ID --status rejected`)",
            records=[data.ref(i) for i in idx], data={"kind": "response", "scope": scope, "size": len(idx)},
        ))
    for idx in _clusters(data.prompt_norm, cfg.min_words):
        ids = [data.groups[g].id for g in idx]
        result.findings.append(Finding(
            NAME, cfg.severity,
            f"prompt groups {', '.join(map(str, ids))} have the same system prompt, earlier turns and prompt "
            "after normalisation; they are one question split over several groups",
            records=[data.gref(g) for g in idx], data={"kind": "prompt", "size": len(idx)},
        ))
    result.stats = {"response_clusters": sum(1 for f in result.findings if f.data["kind"] == "response"),
                    "prompt_clusters": sum(1 for f in result.findings if f.data["kind"] == "prompt")}
    return result
