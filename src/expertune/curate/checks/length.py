"""Length in tokens of the base model, counted on the conversation rendered by its chat template
through the one renderer (llm/render.py: the text and the encoding training uses).

A conversation longer than max_length is cut in training, and what is cut is the end of the
answer (with its end-of-turn token): an error. Unusually short or long answers (robust z-score of
log length) are warnings.

Tokenising 100,000 conversations would dominate the run, so beyond `exact_limit` responses the
tokenizer sees a random sample (to fit tokens per byte), every conversation that could reach
max_length (a token covers at least one UTF-8 byte, so bytes + `slack` bounds the count), and
every estimated outlier before it is reported. Truncation errors are therefore always exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from expertune.config import StrictModel
from expertune.curate.findings import CheckResult, Finding
from expertune.curate.registry import check
from expertune.llm.render import encode, render_text

if TYPE_CHECKING:
    from expertune.curate.runner import CheckContext

NAME = "length"


class Config(StrictModel):
    max_length: int = Field(2048, ge=16)
    outlier_z: float = Field(3.5, gt=0)  # robust z-score of log(response tokens)...
    # ...and at least this factor from the median: in a tight distribution a robust z of 3.5 can be
    # an answer 40% shorter than the rest, which is no outlier to a reader.
    min_ratio: float = Field(2.0, ge=1)
    min_responses_for_outliers: int = Field(20, ge=3)
    exact_limit: int = Field(5000, ge=100)
    slack: int = Field(64, ge=0)  # tokens a template may add beyond one per byte (SentencePiece prefixes)


def render_texts(tokenizer, conversations: list[list[dict]], *, add_generation_prompt: bool = False) -> list[str]:
    return [render_text(c, tokenizer, generation_prompt=add_generation_prompt) for c in conversations]


def count_tokens(tokenizer, texts: list[str]) -> np.ndarray:
    ids = encode(tokenizer, texts)
    return np.fromiter(map(len, ids), np.int64, len(ids))


PLACEHOLDER = "\x00expertune-answer\x00"


class Conversations:
    """Every response's conversation as the chat template renders it.

    Rendering 100,000 conversations through Jinja takes ~10 s, so each group is rendered once with
    a placeholder answer and the answers are substituted — after checking on a sample that this
    gives exactly what the template gives (a template that trims or inspects the answer fails
    the check, and then every conversation is rendered for real).
    """

    def __init__(self, tok, data):
        self.tok, self.data = tok, data
        self.group_of = np.array([it.group for it in data.items], np.int64)
        self.prompts = render_texts(tok, [g.messages() for g in data.groups], add_generation_prompt=True)
        self.templates = render_texts(tok, [[*g.messages(), {"role": "assistant", "content": PLACEHOLDER}] for g in data.groups])
        self._all: list[str] | None = None
        probe = list(range(min(20, len(data.items))))
        self.fast = all(t.count(PLACEHOLDER) == 1 for t in self.templates) and all(
            self.full(i) == self._render(i) and self._substitute(i, f"  {data.items[i].text}\n ") == self._render(i, f"  {data.items[i].text}\n ")
            for i in probe)
        if not self.fast:
            self._all = render_texts(tok, [self._messages(i) for i in range(len(data.items))])

    def _messages(self, i: int, text: str | None = None) -> list[dict]:
        it = self.data.items[i]
        return [*self.data.groups[it.group].messages(), {"role": "assistant", "content": it.text if text is None else text}]

    def _render(self, i: int, text: str | None = None) -> str:
        return render_texts(self.tok, [self._messages(i, text)])[0]

    def _substitute(self, i: int, text: str) -> str:
        return self.templates[self.group_of[i]].replace(PLACEHOLDER, text)

    def full(self, i: int) -> str:
        if self._all is not None:
            return self._all[i]
        return self._substitute(i, self.data.items[i].text)

    def full_bytes(self) -> np.ndarray:
        if self._all is not None:
            return np.array([len(t.encode("utf-8")) for t in self._all], np.int64)
        template = np.array([len(t.encode("utf-8")) - len(PLACEHOLDER) for t in self.templates], np.int64)
        answers = np.array([len(it.text.encode("utf-8")) for it in self.data.items], np.int64)
        return template[self.group_of] + answers

    def prompt_bytes(self) -> np.ndarray:
        return np.array([len(t.encode("utf-8")) for t in self.prompts], np.int64)[self.group_of]


@check(NAME, config=Config)
def run(ctx: "CheckContext", cfg: Config) -> CheckResult:
    data = ctx.data
    max_length = ctx.max_length or cfg.max_length
    tok = ctx.tokenizer()
    n = len(data.items)
    conv = Conversations(tok, data)
    group_of = conv.group_of
    full_bytes = conv.full_bytes()
    answer_bytes = full_bytes - conv.prompt_bytes()
    prompts = conv.prompts

    full_tokens = np.zeros(n, np.int64)
    prompt_tokens = np.full(len(data.groups), -1, np.int64)
    exact = np.zeros(n, bool)

    def count(which: np.ndarray) -> None:
        which = which[~exact[which]]
        full_tokens[which] = count_tokens(tok, [conv.full(i) for i in which.tolist()])
        need = np.unique(group_of[which])
        need = need[prompt_tokens[need] < 0]
        prompt_tokens[need] = count_tokens(tok, [prompts[g] for g in need.tolist()])
        exact[which] = True

    if n <= cfg.exact_limit:
        count(np.arange(n))
    else:
        rng = np.random.default_rng(0)
        count(np.sort(rng.choice(n, cfg.exact_limit, replace=False)))
        count(np.flatnonzero(full_bytes + cfg.slack >= max_length))
    answer_tokens = (full_tokens - prompt_tokens[group_of]).astype(float)
    ratio = answer_tokens[exact].sum() / max(answer_bytes[exact].sum(), 1)
    answer_tokens[~exact] = answer_bytes[~exact] * ratio

    result = CheckResult(NAME)
    truncated = np.flatnonzero(exact & (full_tokens > max_length))
    for i in truncated.tolist():
        it, ref = data.items[i], data.ref(i)
        result.findings.append(Finding(
            NAME, "error",
            f"response {it.id}: {full_tokens[i]} tokens with its prompt, over max_length {max_length}; training "
            f"would cut the end of the answer and its end-of-turn token — shorten it, split it, or raise max_length",
            records=[ref], data={"kind": "truncated", "tokens": int(full_tokens[i]), "max_length": max_length},
        ))
    outliers = _outliers(answer_tokens, cfg)
    if outliers is not None:
        lo, hi, median = outliers
        flagged = np.setdiff1d(np.flatnonzero((answer_tokens < lo) | (answer_tokens > hi)), truncated)
        count(flagged)  # an estimated outlier is reported only once its exact count confirms it
        answer_tokens[flagged] = full_tokens[flagged] - prompt_tokens[group_of[flagged]]
        for i in flagged.tolist():
            t = answer_tokens[i]
            if lo <= t <= hi:
                continue
            it = data.items[i]
            side = "long" if t > hi else "short"
            result.findings.append(Finding(
                NAME, "warning",
                f"response {it.id} is unusually {side}: {int(t)} tokens (median {median:.0f}); check it is complete and on topic",
                records=[data.ref(i)], data={"kind": f"outlier-{side}", "tokens": int(t), "median": median},
            ))
    result.stats = _stats(answer_tokens, full_tokens, exact, max_length, ctx.base_model, outliers)
    return result


def _outliers(tokens: np.ndarray, cfg: Config) -> tuple[float, float, float] | None:
    """Bounds (low, high, median) in tokens beyond which a length is an outlier."""
    if len(tokens) < cfg.min_responses_for_outliers:
        return None
    logs = np.log(np.maximum(tokens, 1))
    median = float(np.median(logs))
    mad = float(np.median(np.abs(logs - median)))
    width = max(cfg.outlier_z * mad / 0.6745, np.log(cfg.min_ratio))
    return float(np.exp(median - width)), float(np.exp(median + width)), float(np.exp(median))


def _stats(answer: np.ndarray, full: np.ndarray, exact: np.ndarray, max_length: int, model: str, bounds) -> dict:
    q1, q2, q3 = (float(x) for x in np.percentile(answer, [25, 50, 75]))
    return {
        "base_model": model,
        "max_length": max_length,
        "exact_counts": int(exact.sum()),
        "estimated_counts": int((~exact).sum()),
        "response_tokens": {"min": float(answer.min()), "p25": q1, "p50": q2, "p75": q3,
                            "p99": float(np.percentile(answer, 99)), "max": float(answer.max()),
                            "iqr_fences": [q1 - 3 * (q3 - q1), q3 + 3 * (q3 - q1)]},
        "conversation_tokens_max": int(full[exact].max()) if exact.any() else None,
        "outlier_bounds": [round(bounds[0], 1), round(bounds[1], 1)] if bounds else None,
    }
