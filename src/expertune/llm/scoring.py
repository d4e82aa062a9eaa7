"""Log-probability of completions under a causal LM, as training sees them.

The completion is the assistant turn as the chat template renders it: the tokens of the rendered
conversation that follow the rendered prompt (`add_generation_prompt=True`), which includes the
end-of-turn token — exactly the tokens a prompt-completion SFT run computes its loss on. Used for
confidence filtering (curate) and held-out perplexity (evaluate).

Batches are right-padded with pads masked out, so a text's numbers do not depend on what it is
batched with (tested against one-by-one scoring).
"""

from __future__ import annotations

from typing import Any, Callable

Message = dict[str, str]


def render_example(tokenizer, messages: list[Message], completion: str) -> tuple[list[int], int]:
    """Token ids of the full conversation and the index of the first completion token."""
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": completion}], tokenize=False)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    # With chat templates the prompt ends on a special token, so its tokens are a prefix of the
    # conversation's. If a template ever merged across the boundary, the completion starts at the
    # first differing token (the same rule TRL applies when it builds the completion mask).
    start = 0
    for a, b in zip(prompt_ids, full_ids):
        if a != b:
            break
        start += 1
    return full_ids, start


def completion_logprobs(
    model,
    tokenizer,
    examples: list[tuple[list[Message], str]],
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Per example {"sum_logprob", "n_tokens", "mean_logprob"} of the completion given the prompt
    messages, in input order. `model` is any causal LM returning `.logits` (PEFT models too)."""
    import torch

    rendered = [render_example(tokenizer, messages, completion) for messages, completion in examples]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    # Similar lengths in a batch waste less compute on padding; results go back in input order.
    order = sorted(range(len(rendered)), key=lambda i: len(rendered[i][0]))
    out: list[dict[str, Any] | None] = [None] * len(rendered)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for b in range(0, len(order), batch_size):
                batch = order[b : b + batch_size]
                width = max(len(rendered[i][0]) for i in batch)
                ids = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    tokens = rendered[i][0]
                    ids[row, : len(tokens)] = torch.tensor(tokens)
                    mask[row, : len(tokens)] = 1
                logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
                for row, i in enumerate(batch):
                    tokens, start = rendered[i]
                    out[i] = _score(logits[row], tokens, start)
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
