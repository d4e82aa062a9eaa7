"""Leakage: the same or nearly the same question in train and in val/test.

A question is its earlier turns and final prompt. The system prompt is left out of the comparison:
it is usually shared by every group (so it would make unrelated questions look alike), and a test
question asked under another system prompt has still been seen in training. Answers copied
verbatim between a training group and a held-out group leak too.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from pydantic import Field

from expertune.config import StrictModel
from expertune.curate.checks import near_duplicates
from expertune.curate.findings import CheckResult, Finding, Severity
from expertune.curate.registry import check

if TYPE_CHECKING:
    from expertune.curate.runner import CheckContext

NAME = "leakage"
HELD_OUT = ("val", "test")


class Config(StrictModel):
    threshold: float = Field(0.8, gt=0, le=1)  # Jaccard of word shingles for "nearly the same"
    # Word pairs: prompts are short, and with triples one changed word in a 20-word question
    # already drops the Jaccard below 0.8.
    shingle: int = Field(2, ge=1, le=10)
    num_perm: int = Field(128, ge=16, le=512)
    responses: bool = True  # also report answers copied between train and val/test
    min_response_words: int = Field(8, ge=1)  # shorter answers ("Yes.") repeat legitimately
    severity: Severity = "error"


@check(NAME, config=Config)
def run(ctx: "CheckContext", cfg: Config) -> CheckResult:
    data = ctx.data
    result = CheckResult(NAME)
    if not data.has_splits:
        result.findings.append(Finding(NAME, "info", "no train/val/test splits assigned yet, so leakage was not "
                                       "checked; run `expertune split`"))
        return result
    split = [g.split for g in data.groups]
    # held-out group -> {train group: similarity}
    matches: dict[int, dict[int, float]] = defaultdict(dict)

    by_text: dict[str, list[int]] = defaultdict(list)
    for gi, text in enumerate(data.user_norm):
        if text:
            by_text[text].append(gi)
    for members in by_text.values():
        for h in (g for g in members if split[g] in HELD_OUT):
            for t in (g for g in members if split[g] == "train"):
                matches[h][t] = 1.0

    nd = near_duplicates.Config(threshold=cfg.threshold, shingle=cfg.shingle, num_perm=cfg.num_perm)
    pairs = near_duplicates.find_pairs(ctx, nd, "prompts")
    for a, b, j in zip(pairs.left.tolist(), pairs.right.tolist(), pairs.jaccard.tolist()):
        for h, t in ((a, b), (b, a)):
            if split[h] in HELD_OUT and split[t] == "train":
                matches[h][t] = max(matches[h].get(t, 0.0), j)

    for h, trains in sorted(matches.items()):
        g = data.groups[h]
        sims = ", ".join(f"{data.groups[t].id} ({'identical' if j >= 1 else f'Jaccard {j:.2f}'})" for t, j in sorted(trains.items()))
        result.findings.append(Finding(
            NAME, cfg.severity,
            f"{g.split} group {g.id} asks the same question as train group(s) {sims}: the model would be evaluated "
            "on what it was trained on; keep one of them (reject the other's responses) or put both in the same split",
            records=[data.gref(h), *(data.gref(t) for t in sorted(trains))],
            data={"kind": "prompt", "held_out": g.id, "train": sorted(data.groups[t].id for t in trains)},
        ))

    if cfg.responses:
        _copied_answers(ctx, cfg, split, result)
    result.stats = {"prompt_leaks": len(matches),
                    "answer_leaks": sum(1 for f in result.findings if f.data.get("kind") == "response")}
    return result


def _copied_answers(ctx: "CheckContext", cfg: Config, split: list[str | None], result: CheckResult) -> None:
    data = ctx.data
    by_text: dict[str, list[int]] = defaultdict(list)
    for i, text in enumerate(data.response_norm):
        if text and text.count(" ") + 1 >= cfg.min_response_words:
            by_text[text].append(i)
    for members in by_text.values():
        splits = {split[data.items[i].group] for i in members}
        if "train" in splits and splits & set(HELD_OUT):
            result.findings.append(Finding(
                NAME, cfg.severity,
                f"the same answer appears in train and in {'/'.join(sorted(splits & set(HELD_OUT)))} "
                f"(responses {', '.join(str(data.items[i].id) for i in members)}): the held-out answer was trained on",
                records=[data.ref(i) for i in members], data={"kind": "response"},
            ))
