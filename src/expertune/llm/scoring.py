"""Log-probability of completions under a causal LM, as training sees them.

The completion is the assistant turn as the one renderer (llm/render.py) marks it: the tokens of
the rendered conversation that follow the rendered prompt, end-of-turn token included — exactly
the tokens a training run computes its loss on. Used for confidence filtering (curate), held-out
perplexity and label scoring (evaluate); a tuned model passes its adapter's system-prompt policy.

Batches are right-padded with pads masked out, so a text's numbers do not depend on what it is
batched with (tested against one-by-one scoring).
"""

from __future__ import annotations

from typing import Any, Callable

from expertune.llm.base import Message
from expertune.llm.render import AS_DATA, SystemPolicy, render


def completion_logprobs(
    model,
    tokenizer,
    examples: list[tuple[list[Message], str]],
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
    *,
    policy: SystemPolicy = AS_DATA,
) -> list[dict[str, Any]]:
    """Per example {"sum_logprob", "n_tokens", "mean_logprob"} of the completion given the prompt
    messages, in input order. `model` is any causal LM returning `.logits` (PEFT models too)."""
    import torch

    rendered = [render([*messages, {"role": "assistant", "content": completion}], tokenizer, policy)
                for messages, completion in examples]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    # Similar lengths in a batch waste less compute on padding; results go back in input order.
    order = sorted(range(len(rendered)), key=lambda i: len(rendered[i].input_ids))
    out: list[dict[str, Any] | None] = [None] * len(rendered)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for b in range(0, len(order), batch_size):
                batch = order[b : b + batch_size]
                width = max(len(rendered[i].input_ids) for i in batch)
                ids = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    tokens = rendered[i].input_ids
                    ids[row, : len(tokens)] = torch.tensor(tokens)
                    mask[row, : len(tokens)] = 1
                logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
                for row, i in enumerate(batch):
                    out[i] = _score(logits[row], rendered[i].input_ids, rendered[i].prompt_length)
                if progress:
                    progress(min(b + batch_size, len(order)), len(order))
    finally:
        model.train(was_training)
    return out  # type: ignore[return-value]


def _score(logits, tokens: list[int], start: int) -> dict[str, Any]:
    import torch

    start = max(start, 1)  # the first token of a sequence has no prediction
    n = len(tokens) - start
    if n <= 0:
        return {"sum_logprob": 0.0, "n_tokens": 0, "mean_logprob": float("nan")}
    # Position t predicts token t+1: only the completion's rows go through log-softmax.
    rows = logits[start - 1 : len(tokens) - 1].float()
    targets = torch.tensor(tokens[start:], device=rows.device)
    logp = torch.log_softmax(rows, dim=-1).gather(1, targets[:, None]).squeeze(1).double()
    total = float(logp.sum())
    return {"sum_logprob": total, "n_tokens": n, "mean_logprob": total / n}
