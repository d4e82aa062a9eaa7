"""Contamination: training text that shares word n-grams with a registered evaluation set.

Training text is the prompts and responses of the train split (and of groups not yet split, which
would be trained on). Eval items are the registered sets' prompts, questions and explanations
(multiple-choice options are left out: they are short domain terms, such as case names, that any
training text on the subject contains). Items shorter than `ngram` words are matched whole when
they have at least `min_ngram` words, and an eval prompt equal (after normalisation) to a training
prompt always counts.

One shared 13-gram is often a citation ("Pharmaceutical Society of Great Britain v Boots Cash
Chemists [1953] 1 QB 401") rather than a copied item, so a match is reported when the shared
n-grams cover `min_coverage` of the eval item's words, or run over `min_run_words` consecutive words.
Explanations only count by the second rule: they are short and often little more than a citation,
and the training data is meant to teach the same law.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from expertune.config import StrictModel
from expertune.curate.findings import CheckResult, Finding, Severity, Span
from expertune.curate.registry import check
from expertune.curate.text import WordTable, merge_spans, normalise, word_spans
from expertune.data.evalsets import get_evalset, list_evalsets

if TYPE_CHECKING:
    from expertune.curate.runner import CheckContext

NAME = "contamination"


class Config(StrictModel):
    ngram: int = Field(13, ge=3, le=50)
    min_ngram: int = Field(8, ge=3, le=50)
    min_coverage: float = Field(0.5, gt=0, le=1)  # share of the eval item's words in shared n-grams
    min_run_words: int = Field(26, ge=3)  # or this many consecutive shared words
    severity: Severity = "error"


@dataclass
class Segment:
    evalset: str
    idx: int
    line: int
    field: str
    text: str


def _segments(ws) -> list[Segment]:
    out = []
    for meta in list_evalsets(ws):
        for item in get_evalset(ws, meta["name"])["items"]:
            out.append(Segment(meta["name"], item["idx"], item["line"], "text", item["text"]))
            payload = item["payload"]
            if isinstance(payload.get("explanation"), str):
                out.append(Segment(meta["name"], item["idx"], item["line"], "explanation", payload["explanation"]))
    return out


def _index(table: WordTable, n: int, docs_wanted: np.ndarray | None = None) -> dict[int, list[tuple[int, int]]]:
    """{hash of an n-gram: [(segment, start word)]}; with `docs_wanted`, only their first n-gram."""
    index: dict[int, list[tuple[int, int]]] = defaultdict(list)
    h, docs, starts = table.ngrams(n)
    keep = np.ones(len(h), bool) if docs_wanted is None else (starts == 0) & np.isin(docs, docs_wanted)
    for x, d, st in zip(h[keep].tolist(), docs[keep].tolist(), starts[keep].tolist()):
        index[x].append((d, st))
    return index


def _lookup(table: WordTable, n: int, index: dict, in_training: np.ndarray):
    """(record, start word, segment, start word in it) for every indexed n-gram of a training record."""
    if not index:
        return
    h, docs, starts = table.ngrams(n)
    keys = np.fromiter(index.keys(), np.uint64, len(index))
    for pos in np.flatnonzero(np.isin(h, keys) & in_training[docs]).tolist():
        for seg, seg_start in index[int(h[pos])]:
            yield int(docs[pos]), int(starts[pos]), seg, seg_start


@check(NAME, config=Config)
def run(ctx: "CheckContext", cfg: Config) -> CheckResult:
    data = ctx.data
    result = CheckResult(NAME)
    segments = _segments(ctx.ws)
    result.stats = {"eval_sets": sorted({s.evalset for s in segments}), "eval_segments": len(segments), "ngram": cfg.ngram}
    if not segments:
        return result
    evals = WordTable([s.text for s in segments])
    full = _index(evals, cfg.ngram)
    # Short items are found through their first min_ngram words, then compared word by word:
    # one extra pass over the training text instead of one per item length.
    short = np.flatnonzero((evals.lengths >= cfg.min_ngram) & (evals.lengths < cfg.ngram))
    first = _index(evals, cfg.min_ngram, short) if len(short) else {}
    training_groups = np.array([g.split in (None, "train") for g in data.groups])

    # (kind, record index, segment) -> [(start word, n-gram length, start word in the segment)]
    hits: dict[tuple[str, int, int], list[tuple[int, int, int]]] = defaultdict(list)
    for kind, table, in_training in (
        ("response", data.response_words, training_groups[np.array([it.group for it in data.items], np.int64)]),
        ("prompt", data.prompt_words, training_groups),
    ):
        for rec, start, seg, seg_start in _lookup(table, cfg.ngram, full, in_training):
            hits[(kind, rec, seg)].append((start, cfg.ngram, seg_start))
        for rec, start, seg, _ in _lookup(table, cfg.min_ngram, first, in_training):
            k = int(evals.lengths[seg])
            a = table.offsets[rec] + start
            if start + k <= table.lengths[rec] and np.array_equal(
                    table.values[a : a + k], evals.values[evals.offsets[seg] : evals.offsets[seg] + k]):
                hits[(kind, rec, seg)].append((start, k, 0))
    hits = {key: found for key, found in hits.items()
            if _substantial(found, segments[key[2]], int(evals.lengths[key[2]]), cfg)}

    eval_prompts: dict[str, list[int]] = defaultdict(list)
    for si, s in enumerate(segments):
        if s.field == "text":
            eval_prompts[normalise(s.text)].append(si)
    for gi, text in enumerate(data.user_norm):
        if training_groups[gi] and text in eval_prompts:
            for si in eval_prompts[text]:
                hits.setdefault(("prompt", gi, si), [])

    for (kind, rec, si), found in sorted(hits.items()):
        result.findings.append(_finding(ctx, cfg, kind, rec, segments[si], found))
    result.stats["contaminated_records"] = len({(k, r) for k, r, _ in hits})
    return result


def _substantial(found: list[tuple[int, int, int]], seg: Segment, seg_words: int, cfg: Config) -> bool:
    longest = max((e - s for s, e in merge_spans([(st, st + n) for st, n, _ in found])), default=0)
    if longest >= cfg.min_run_words:
        return True
    covered = set()
    for _, n, seg_start in found:
        covered.update(range(seg_start, seg_start + n))
    return seg.field != "explanation" and len(covered) >= cfg.min_coverage * seg_words


def _finding(ctx: "CheckContext", cfg: Config, kind: str, rec: int, seg: Segment, found: list[tuple[int, int, int]]) -> Finding:
    data = ctx.data
    what = f"eval set '{seg.evalset}' item {seg.idx} (line {seg.line}, {seg.field})"
    if kind == "response":
        ref, text, label = data.ref(rec), data.items[rec].text, f"response {data.items[rec].id}"
    else:
        ref, text, label = data.gref(rec), data.groups[rec].user_text(), f"the prompt of group {data.groups[rec].id}"
    how = f"shares {len(found)} word {cfg.ngram}-gram(s) with" if found else "is the same text as"
    spans = []
    offsets = word_spans(text)
    if offsets:
        for start, n, _ in found:
            s, e = offsets[start][0], offsets[start + n - 1][1]
            if kind == "response":
                spans.append(Span("response", s, e, ref.group_id, ref.response_id, seg.evalset))
            else:
                field, local = data.groups[rec].locate(s)
                spans.append(Span(field, local, local + (e - s), ref.group_id, None, seg.evalset))
    return Finding(
        NAME, cfg.severity,
        f"{label} {how} {what}: the model would be tested on text it was trained on; "
        "remove or rewrite the overlap, or drop the item from the eval set",
        records=[ref], spans=_merge(spans),
        data={"kind": kind, "evalset": seg.evalset, "item": seg.idx, "line": seg.line, "field": seg.field,
              "overlaps": len(found), "eval_text": seg.text[:300]},
    )


def _merge(spans: list[Span]) -> list[Span]:
    by_field: dict[str, list[Span]] = defaultdict(list)
    for s in spans:
        by_field[s.field].append(s)
    out = []
    for field, items in by_field.items():
        for s, e in merge_spans([(x.start, x.end) for x in items]):
            out.append(Span(field, s, e, items[0].group_id, items[0].response_id, items[0].label))
    return out
