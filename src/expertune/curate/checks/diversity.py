"""Diversity of the answers: distinct-1/2 (share of unique words and word pairs), zlib compression
ratio (raw / compressed: higher means more repetitive), overall and per topic.

Distinct-n falls as a corpus grows, so topics are compared on samples of equal size (the first
`sample_words` words of each, in a fixed random order of responses).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from expertune.config import StrictModel
from expertune.curate.findings import CheckResult, Finding
from expertune.curate.registry import check

if TYPE_CHECKING:
    from expertune.curate.runner import CheckContext

NAME = "diversity"


class Config(StrictModel):
    sample_words: int = Field(20000, ge=100)
    sample_bytes: int = Field(1_000_000, ge=1000)  # text compressed for the ratio


def measure(ctx: "CheckContext", docs: np.ndarray, cfg: Config) -> dict:
    table, items = ctx.data.response_words, ctx.data.items
    order = np.random.default_rng(0).permutation(docs)
    ids, bigrams, n = [], [], 0
    for d in order.tolist():
        w = table.ids[table.offsets[d] : table.offsets[d + 1]]
        ids.append(w)
        bigrams.append(w[:-1] * table.vocab_size + w[1:])
        n += len(w)
        if n >= cfg.sample_words:
            break
    words = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    pairs = np.concatenate(bigrams) if bigrams else np.zeros(0, np.int64)
    raw, size = [], 0
    for d in order.tolist():
        raw.append(items[d].text.encode("utf-8"))
        size += len(raw[-1])
        if size >= cfg.sample_bytes:
            break
    blob = b"\n".join(raw)
    return {
        "responses": len(docs),
        "distinct_1": round(len(np.unique(words)) / max(len(words), 1), 4),
        "distinct_2": round(len(np.unique(pairs)) / max(len(pairs), 1), 4),
        "compression_ratio": round(len(blob) / max(len(zlib.compress(blob, 6)), 1), 3),
        "sample_words": int(len(words)),
    }


@check(NAME, config=Config)
def run(ctx: "CheckContext", cfg: Config) -> CheckResult:
    data = ctx.data
    result = CheckResult(NAME)
    topic_of = np.array([data.groups[it.group].topic or "(no topic)" for it in data.items], object)
    overall = measure(ctx, np.arange(len(data.items)), cfg)
    per_topic = {t: measure(ctx, np.flatnonzero(topic_of == t), cfg) for t in sorted(set(topic_of.tolist()))}
    d2 = [m["distinct_2"] for m in per_topic.values()]
    spread = {"distinct_2_min": min(d2), "distinct_2_max": max(d2), "distinct_2_range": round(max(d2) - min(d2), 4)}
    result.findings.append(Finding(
        NAME, "info",
        f"all responses: distinct-1 {overall['distinct_1']:.3f}, distinct-2 {overall['distinct_2']:.3f}, "
        f"compression ratio {overall['compression_ratio']:.2f} (on {overall['sample_words']} words); "
        f"distinct-2 across topics {spread['distinct_2_min']:.3f}–{spread['distinct_2_max']:.3f}",
        data={"overall": overall, "spread": spread},
    ))
    for topic, m in per_topic.items():
        result.findings.append(Finding(
            NAME, "info",
            f"topic '{topic}': distinct-1 {m['distinct_1']:.3f}, distinct-2 {m['distinct_2']:.3f}, "
            f"compression ratio {m['compression_ratio']:.2f} ({m['responses']} responses)",
            data={"topic": topic, **m},
        ))
    result.stats = {"overall": overall, "per_topic": per_topic, "spread": spread}
    return result
