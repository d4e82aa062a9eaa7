"""The training audit: examples tokenised by the function that feeds the trainer (train/sft.py
`tokenise`, through the one renderer), with trained and masked tokens marked. Catches the field's
classic silent failures before a run costs hours: labels all masked, EOS never trained, answers
cut by max_length. It needs the tokenizer only, not the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from expertune.errors import ExpertuneError
from expertune.llm.render import SystemPolicy
from expertune.train.recipe import Recipe
from expertune.train.sft import tokenise, training_tokenizer


class AuditFailed(ExpertuneError):
    pass


@dataclass
class AuditReport:
    template_source: str
    eos_token: str
    max_length: int
    examples: dict[str, int] = field(default_factory=dict)
    no_trained_token: list[dict[str, Any]] = field(default_factory=list)
    truncated: list[dict[str, Any]] = field(default_factory=list)
    eos_not_trained: list[dict[str, Any]] = field(default_factory=list)
    token_lengths: dict[str, dict[str, float]] = field(default_factory=dict)
    trained_tokens: dict[str, int] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        out = []
        if self.no_trained_token:
            out.append(f"{len(self.no_trained_token)} examples have no trained token (the answer is masked or cut away)")
        if self.truncated:
            lost = sum(t["tokens_lost"] for t in self.truncated)
            out.append(f"{len(self.truncated)} examples are longer than max_length={self.max_length} "
                       f"({lost} tokens would be cut); raise max_length, shorten them, or set allow_truncation: true")
        if self.eos_not_trained:
            out.append(f"{len(self.eos_not_trained)} examples do not train the EOS token {self.eos_token!r}: "
                       "the model would not learn to stop")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "template_source": self.template_source, "eos_token": self.eos_token, "max_length": self.max_length,
            "examples": self.examples, "trained_tokens": self.trained_tokens, "token_lengths": self.token_lengths,
            "no_trained_token": self.no_trained_token, "truncated": self.truncated,
            "eos_not_trained": self.eos_not_trained, "errors": self.errors, "samples": self.samples,
        }


def _percentiles(lengths: list[int]) -> dict[str, float]:
    if not lengths:
        return {}
    a = np.asarray(lengths)
    return {"min": int(a.min()), "p50": float(np.percentile(a, 50)), "p90": float(np.percentile(a, 90)),
            "p99": float(np.percentile(a, 99)), "max": int(a.max())}


def _segments(tokenizer, ids: list[int], labels: list[int]) -> list[dict[str, Any]]:
    """Consecutive runs of trained / masked tokens, decoded, for display."""
    out: list[dict[str, Any]] = []
    start = 0
    for i in range(1, len(ids) + 1):
        if i == len(ids) or (labels[i] != -100) != (labels[start] != -100):
            out.append({"trained": labels[start] != -100, "text": tokenizer.decode(ids[start:i])})
            start = i
    return out


def audit_examples(recipe: Recipe, model_path: str, template_source: str, examples: dict[str, list[dict]], *,
                   n_samples: int = 3) -> AuditReport:
    tok = training_tokenizer(model_path)
    eos_id = tok.convert_tokens_to_ids(tok.eos_token)
    report = AuditReport(template_source=template_source, eos_token=tok.eos_token, max_length=recipe.max_length)
    policy = SystemPolicy.from_recipe(recipe)
    for split in ("train", "val"):
        ds = tokenise(examples.get(split) or [], tok, policy)
        lengths, trained_total = [], 0
        for i, row in enumerate(ds):
            # Labels as the trainer builds them from the completion mask (-100: not trained).
            ids = row["input_ids"]
            labels = [t if m else -100 for t, m in zip(ids, row["completion_mask"])]
            ref = {"split": split, "index": i, "response_id": row.get("response_id"), "group_id": row.get("group_id")}
            kept = labels[: recipe.max_length]
            # Labels are next-token targets after the model's shift, so position 0 is never trained.
            trained_kept = sum(1 for lab in kept[1:] if lab != -100)
            lengths.append(len(ids))
            trained_total += trained_kept
            if trained_kept == 0:
                report.no_trained_token.append({**ref, "tokens": len(ids)})
            if len(ids) > recipe.max_length:
                report.truncated.append({**ref, "tokens": len(ids), "tokens_lost": len(ids) - recipe.max_length})
            # A cut answer loses its EOS by definition; that is reported as truncation instead.
            elif eos_id not in [t for t, lab in zip(ids[1:], labels[1:]) if lab != -100]:
                report.eos_not_trained.append(ref)
            if split == "train" and i < n_samples:
                report.samples.append({**ref, "tokens": len(ids), "trained": trained_kept,
                                       "segments": _segments(tok, ids, labels)})
        report.examples[split] = len(ds)
        report.trained_tokens[split] = trained_total
        report.token_lengths[split] = _percentiles(lengths)
    return report


def enforce(report: AuditReport, recipe: Recipe) -> None:
    problems = [e for e in report.errors if not (recipe.allow_truncation and "longer than max_length" in e)]
    if problems:
        raise AuditFailed("training audit failed:\n  - " + "\n  - ".join(problems) +
                          "\n(see `expertune train audit RECIPE` for the examples)")


def audit_recipe(ws, recipe: str | Path, overrides: list[str] | None = None, *, dataset_version: str | None = None,
                 n_samples: int = 5) -> tuple[AuditReport, Recipe]:
    """Audit what `expertune train RECIPE` would train on: the named dataset version (default: a
    snapshot of the current data), tokenised for the recipe's base model."""
    from expertune.data.versions import get_version, snapshot
    from expertune.models import resolve
    from expertune.train.data import load_examples
    from expertune.train.recipe import load_recipe

    r = load_recipe(recipe, overrides)
    version = get_version(ws, dataset_version) if dataset_version else snapshot(ws)
    base = resolve(r.base_model)
    return audit_examples(r, base.path, base.chat_template_source, load_examples(version, r), n_samples=n_samples), r
