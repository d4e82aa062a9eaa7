"""Near-duplicates: responses (and prompts) whose word-shingle sets overlap by Jaccard >= threshold.

Near-identical responses inside one prompt group ("variants") add little to the response
distribution a group teaches; near-identical responses to different prompts are copy-paste. The
two are reported separately. Exact copies are left to the duplicates check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from expertune.config import StrictModel
from expertune.curate.findings import CheckResult, Finding, Severity
from expertune.curate.minhash import SimilarPairs, components, similar_pairs
from expertune.curate.registry import check

if TYPE_CHECKING:
    from expertune.curate.runner import CheckContext

NAME = "near-duplicates"


class Config(StrictModel):
    threshold: float = Field(0.8, gt=0, le=1)
    shingle: int = Field(3, ge=1, le=10)  # words per shingle
    num_perm: int = Field(128, ge=16, le=512)
    # LSH candidate threshold; default threshold - 0.2 (floor 0.3): recall over speed.
    candidate_threshold: float | None = Field(None, gt=0, le=1)
    prompts: bool = True  # also look for near-identical prompts in different groups
    severity: Severity = "warning"
    variant_severity: Severity = "info"


def find_pairs(ctx: "CheckContext", cfg: Config, what: str) -> SimilarPairs:
    """Confirmed pairs for "responses" or "prompts", computed once per run and settings."""
    key = (NAME, what, cfg.threshold, cfg.shingle, cfg.num_perm, cfg.candidate_threshold)
    if key not in ctx.cache:
        table, keys = ((ctx.data.response_words, ctx.data.response_norm) if what == "responses"
                       else (ctx.data.prompt_words, ctx.data.user_norm))
        ctx.cache[key] = similar_pairs(table, keys, shingle=cfg.shingle, threshold=cfg.threshold,
                                       num_perm=cfg.num_perm, candidate_threshold=cfg.candidate_threshold)
    return ctx.cache[key]


def _range(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:.2f}" if abs(hi - lo) < 0.005 else f"{lo:.2f}–{hi:.2f}"


def _clusters(n: int, left: np.ndarray, right: np.ndarray, jaccard: np.ndarray) -> list[tuple[list[int], list[float]]]:
    """Connected components of the pair graph, each with the Jaccard values of its pairs."""
    comps = components(n, left, right)
    comp_of = {node: c for c, members in enumerate(comps) for node in members}
    values: list[list[float]] = [[] for _ in comps]
    for a, j in zip(left.tolist(), jaccard.tolist()):
        values[comp_of[a]].append(j)
    return list(zip(comps, values))


@check(NAME, config=Config)
def run(ctx: "CheckContext", cfg: Config) -> CheckResult:
    data = ctx.data
    result = CheckResult(NAME)
    pairs = find_pairs(ctx, cfg, "responses")
    group_of = np.array([it.group for it in data.items], np.int64)
    same = group_of[pairs.left] == group_of[pairs.right]
    n = len(data.items)

    for comp, js in _clusters(n, pairs.left[same], pairs.right[same], pairs.jaccard[same]):
        gid = data.groups[data.items[comp[0]].group].id
        result.findings.append(Finding(
            NAME, cfg.variant_severity,
            f"{len(comp)} responses in group {gid} are near-identical variants (Jaccard {_range(js)}); "
            "a group teaches a distribution of answers, so keep the most distinct ones",
            records=[data.ref(i) for i in comp], data={"kind": "variants", "jaccard": [min(js), max(js)]},
        ))
    for comp, js in _clusters(n, pairs.left[~same], pairs.right[~same], pairs.jaccard[~same]):
        groups = sorted({data.groups[data.items[i].group].id for i in comp})
        result.findings.append(Finding(
            NAME, cfg.severity,
            f"{len(comp)} responses to {len(groups)} different prompts are near-duplicates (Jaccard {_range(js)}): "
            f"groups {', '.join(map(str, groups))}",
            records=[data.ref(i) for i in comp], data={"kind": "cross-group", "jaccard": [min(js), max(js)]},
        ))
    stats = {"responses": {"candidates": pairs.candidates, "confirmed_pairs": len(pairs.left), **pairs.params}}

    if cfg.prompts:
        pp = find_pairs(ctx, cfg, "prompts")
        for comp, js in _clusters(len(data.groups), pp.left, pp.right, pp.jaccard):
            ids = [data.groups[g].id for g in comp]
            result.findings.append(Finding(
                NAME, cfg.severity,
                f"prompt groups {', '.join(map(str, ids))} ask nearly the same question (Jaccard {_range(js)}); "
                "merge them or make them distinct",
                records=[data.gref(g) for g in comp], data={"kind": "prompts", "jaccard": [min(js), max(js)]},
            ))
        stats["prompts"] = {"candidates": pp.candidates, "confirmed_pairs": len(pp.left)}
    result.stats = stats
    return result
