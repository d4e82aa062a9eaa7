"""Balance: responses and prompt groups per topic (imbalance ratio, normalised entropy) and groups
with a single response (they teach one answer, not a distribution)."""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING

from pydantic import Field

from expertune.config import StrictModel
from expertune.curate.findings import CheckResult, Finding
from expertune.curate.registry import check

if TYPE_CHECKING:
    from expertune.curate.runner import CheckContext

NAME = "balance"
NO_TOPIC = "(no topic)"


class Config(StrictModel):
    max_imbalance: float = Field(10.0, ge=1)  # largest / smallest topic by responses
    min_entropy: float = Field(0.5, ge=0, le=1)  # normalised entropy of responses over topics
    max_single_share: float = Field(0.5, ge=0, le=1)  # share of one-response groups that warns


def entropy(counts: list[int]) -> float:
    """Shannon entropy divided by its maximum (1 = perfectly even; 1 for a single topic too)."""
    total = sum(counts)
    if len(counts) < 2 or not total:
        return 1.0
    h = -sum(c / total * math.log(c / total) for c in counts if c)
    return h / math.log(len(counts))


@check(NAME, config=Config)
def run(ctx: "CheckContext", cfg: Config) -> CheckResult:
    data = ctx.data
    result = CheckResult(NAME)
    responses = Counter(data.groups[it.group].topic or NO_TOPIC for it in data.items)
    groups = Counter(g.topic or NO_TOPIC for g in data.groups)
    per_group = Counter(it.group for it in data.items)
    ratio = max(responses.values()) / min(responses.values())
    ent = entropy(list(responses.values()))
    table = ", ".join(f"{t} {responses[t]} ({groups[t]} groups)" for t in sorted(responses))
    result.findings.append(Finding(
        NAME, "info",
        f"{len(responses)} topic(s): {table}; imbalance ratio {ratio:.1f}, normalised entropy {ent:.2f}",
        data={"topics": {t: {"responses": responses[t], "groups": groups[t]} for t in sorted(responses)},
              "imbalance_ratio": ratio, "entropy": ent},
    ))
    if ratio > cfg.max_imbalance or ent < cfg.min_entropy:
        small = min(responses, key=responses.get)
        result.findings.append(Finding(
            NAME, "warning",
            f"topics are imbalanced (ratio {ratio:.1f} > {cfg.max_imbalance:g} or entropy {ent:.2f} < {cfg.min_entropy:g}); "
            f"the tuned model will know '{small}' least — add data there or down-weight the largest topic",
            data={"imbalance_ratio": ratio, "entropy": ent},
        ))
    singles = [gi for gi in range(len(data.groups)) if per_group.get(gi, 0) == 1]
    if singles:
        share = len(singles) / len(data.groups)
        result.findings.append(Finding(
            NAME, "warning" if share > cfg.max_single_share else "info",
            f"{len(singles)} of {len(data.groups)} prompt groups ({share:.0%}) have a single accepted response; "
            "several good answers per prompt teach a distribution instead of one phrasing",
            records=[data.gref(gi) for gi in singles], data={"groups": len(singles), "share": share},
        ))
    if NO_TOPIC in groups and len(groups) > 1:
        untopiced = [gi for gi, g in enumerate(data.groups) if not g.topic]
        result.findings.append(Finding(
            NAME, "info", f"{len(untopiced)} prompt groups have no topic; give them one (`--topic` at import) to "
            "balance and stratify splits by topic", records=[data.gref(gi) for gi in untopiced],
        ))
    rpp = Counter(per_group.values())
    result.stats = {"responses_per_topic": dict(responses), "groups_per_topic": dict(groups), "imbalance_ratio": ratio,
                    "entropy": ent, "responses_per_prompt": {str(k): rpp[k] for k in sorted(rpp)}}
    return result
