"""Confidence (CLEAR-style): how likely the base model finds each response given its prompt.

The score is the mean token log-probability of the assistant turn (through the chat template, end
of turn included). The least likely responses are the first to review: they are often wrong,
off-topic or garbled — or the expert knowledge the model lacks, which is why they are listed for a
human to judge and never dropped automatically. Scores are cached in the store by a hash of the
model's weights and the rendered text, so a re-run only scores what changed.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field
from sqlalchemy import select

from expertune.config import StrictModel
from expertune.curate.findings import CheckResult, Finding
from expertune.curate.registry import check
from expertune.llm.render import render_text
from expertune.llm.scoring import native_bf16
from expertune.store.tables import ScoreCache

if TYPE_CHECKING:
    from expertune.curate.runner import CheckContext

NAME = "confidence"
CHUNK = 64  # examples scored (and cached) per store transaction, so an interrupted run keeps its work


class Config(StrictModel):
    enabled: bool = False  # run with every default `expertune check`, not only with --with-model
    batch_size: int = Field(8, ge=1)
    review: int = Field(20, ge=0)  # how many of the least likely responses to list
    outlier_z: float = Field(3.5, gt=0)  # robust z-score below which a response is a warning
    bins: int = Field(20, ge=2)


def cache_key(model_id: str, rendered: str) -> str:
    return hashlib.sha256(f"{model_id}\x00{rendered}".encode("utf-8")).hexdigest()


def scores(ctx: "CheckContext", cfg: Config) -> tuple[list[dict], dict]:
    """Scores of every response (cached or computed) and how many came from the cache."""
    from expertune.models import load_model, resolve

    data = ctx.data
    resolved = resolve(ctx.base_model)
    # bf16 scores differ from fp32 ones in the third decimal: each precision keeps its own entries.
    precision = "bf16" if native_bf16("cpu") else "fp32"
    model_id = (resolved.sha256 or resolved.path) + (":bf16" if precision == "bf16" else "")
    tok = ctx.tokenizer()
    examples = [(data.groups[it.group].messages(), it.text) for it in data.items]
    # The key is the text the one renderer scores (llm/scoring.py renders through it too).
    texts = [render_text([*m, {"role": "assistant", "content": c}], tok) for m, c in examples]
    keys = [cache_key(model_id, text) for text in texts]
    found: dict[str, dict] = {}
    with ctx.ws.session() as session:
        for s in range(0, len(keys), 500):
            found.update(session.execute(select(ScoreCache.key, ScoreCache.value).where(ScoreCache.key.in_(keys[s : s + 500]))).all())
    # Longest first across the whole run: chunks of similar lengths batch with little padding, and
    # the progress bar's estimate (in responses) starts pessimistic and improves instead of slipping.
    todo = sorted((i for i, k in enumerate(keys) if k not in found), key=lambda i: -len(texts[i]))
    if todo:
        from expertune.llm.scoring import completion_logprobs

        model = load_model(resolved)
        ctx.report_progress(NAME, 0, len(todo))
        for s in range(0, len(todo), CHUNK):
            chunk = todo[s : s + CHUNK]
            values = completion_logprobs(model, tok, [examples[i] for i in chunk], batch_size=cfg.batch_size,
                                         progress=lambda done, _, s=s: ctx.report_progress(NAME, s + done, len(todo)))
            with ctx.ws.session() as session:
                for i, v in zip(chunk, values):
                    if keys[i] not in found:
                        session.merge(ScoreCache(key=keys[i], value=v))
                    found[keys[i]] = v
    return [found[k] for k in keys], {"model": ctx.base_model, "model_sha256": resolved.sha256,
                                      "cached": len(keys) - len(todo), "computed": len(todo)}


@check(NAME, config=Config, uses_model=True)
def run(ctx: "CheckContext", cfg: Config) -> CheckResult:
    data = ctx.data
    values, info = scores(ctx, cfg)
    mean = np.array([v["mean_logprob"] if v["n_tokens"] else np.nan for v in values], float)
    valid = np.flatnonzero(~np.isnan(mean))
    result = CheckResult(NAME)
    if not len(valid):
        result.stats = info
        return result
    x = mean[valid]
    median = float(np.median(x))
    mad = float(np.median(np.abs(x - median))) or 1e-9
    z = 0.6745 * (mean - median) / mad
    order = valid[np.argsort(mean[valid], kind="stable")]
    review = order[: cfg.review].tolist()
    if review:
        listing = ", ".join(f"{data.items[i].id} ({mean[i]:.2f})" for i in review[:10])
        result.findings.append(Finding(
            NAME, "info",
            f"the {len(review)} responses the base model finds least likely (mean log-probability per token; "
            f"median {median:.2f}): {listing}{' …' if len(review) > 10 else ''} — review them first",
            records=[data.ref(i) for i in review],
            data={"kind": "review", "scores": {data.items[i].id: round(float(mean[i]), 4) for i in review}},
        ))
    for i in order.tolist():
        if z[i] > -cfg.outlier_z:
            break
        result.findings.append(Finding(
            NAME, "warning",
            f"response {data.items[i].id} is unusually unlikely under the base model (mean log-probability "
            f"{mean[i]:.2f}, robust z {z[i]:.1f}); check it is correct, on topic and not garbled",
            records=[data.ref(i)], data={"kind": "outlier", "mean_logprob": float(mean[i]), "z": float(z[i])},
        ))
    counts, edges = np.histogram(x, bins=cfg.bins)
    result.stats = {
        **info,
        "mean_logprob": {"min": float(x.min()), "p10": float(np.percentile(x, 10)), "p50": median,
                         "p90": float(np.percentile(x, 90)), "max": float(x.max()), "mean": float(x.mean())},
        "histogram": {"edges": [round(float(e), 4) for e in edges], "counts": counts.tolist()},
        "scores": {data.items[i].id: round(float(mean[i]), 5) for i in valid.tolist()},
    }
    return result
