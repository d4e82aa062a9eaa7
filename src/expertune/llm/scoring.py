"""Log-probability of completions under a causal LM, as training sees them.

The completion is the assistant turn as the one renderer (llm/render.py) marks it: the tokens of
the rendered conversation that follow the rendered prompt, end-of-turn token included — exactly
the tokens a training run computes its loss on. Used for confidence filtering (curate), held-out
perplexity and label scoring (evaluate); a tuned model passes its adapter's system-prompt policy.

Batches are right-padded with pads masked out, so a text's numbers do not depend on what it is
batched with (tested against one-by-one scoring). What makes it fast (bench/confidence_scoring.py):
  - texts are sorted by length before batching, so a batch carries little padding; results are
    returned in input order;
  - the output head and log-softmax run only on the positions that predict a completion token —
    the head is a vocabulary-wide matmul (a fifth of a 135M model's compute per position) and the
    log-softmax over the vocabulary is memory-bound, both wasted on prompt positions;
  - bf16 autocast where the hardware computes bf16 natively (train/device.py decides, as for
    training), inference mode (no autograd bookkeeping).
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable

from expertune.llm.base import Message
from expertune.llm.render import AS_DATA, SystemPolicy, render

# Configuration keys of architectures whose head output is rescaled after the matmul in ways the
# selected-positions path does not reproduce: those models take the full-logits path.
_RESCALED_LOGITS = ("logit_scale", "logits_scaling", "output_multiplier_scale")

def completion_logprobs(
    model,
    tokenizer,
    examples: list[tuple[list[Message], str]],
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
    *,
    policy: SystemPolicy = AS_DATA,
    precision: str = "auto",
) -> list[dict[str, Any]]:
    """Per example {"sum_logprob", "n_tokens", "mean_logprob"} of the completion given the prompt
    messages, in input order. `model` is any causal LM returning `.logits` (PEFT models too).
    `precision` is "auto" (bf16 autocast where native, else the model's own dtype), "fp32" (the
    model as loaded, no autocast) or "bf16" (autocast even where emulated: slow, for tests);
    `progress(done, total)` is called after each batch."""
    import torch

    rendered = [render([*messages, {"role": "assistant", "content": completion}], tokenizer, policy)
                for messages, completion in examples]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    order = sorted(range(len(rendered)), key=lambda i: len(rendered[i].input_ids))
    out: list[dict[str, Any] | None] = [None] * len(rendered)
    forward = _selected_positions_forward(model) or _full_logits_forward(model)
    was_training = model.training
    model.eval()
    try:
        # One autocast context for the whole loop: its cache keeps the bf16 copies of the weights
        # across batches instead of casting them again for every forward.
        with torch.inference_mode(), _autocast(model, device, precision):
            for b in range(0, len(order), batch_size):
                batch = order[b : b + batch_size]
                width = max(len(rendered[i].input_ids) for i in batch)
                ids = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                rows, cols, targets, owner = [], [], [], []
                for row, i in enumerate(batch):
                    tokens = rendered[i].input_ids
                    ids[row, : len(tokens)] = torch.tensor(tokens)
                    mask[row, : len(tokens)] = 1
                    # Position t predicts token t+1; the first token of a sequence has no prediction.
                    start = max(rendered[i].prompt_length, 1)
                    for t in range(start, len(tokens)):
                        rows.append(row)
                        cols.append(t - 1)
                        targets.append(tokens[t])
                        owner.append(row)
                logp = forward(ids.to(device), mask.to(device), torch.tensor(rows, dtype=torch.long, device=device),
                               torch.tensor(cols, dtype=torch.long, device=device),
                               torch.tensor(targets, dtype=torch.long, device=device))
                sums = torch.zeros(len(batch), dtype=torch.float64).index_add_(
                    0, torch.tensor(owner, dtype=torch.long), logp.double().cpu())
                counts = torch.bincount(torch.tensor(owner, dtype=torch.long), minlength=len(batch)).tolist()
                for row, i in enumerate(batch):
                    out[i] = _result(float(sums[row]), counts[row])
                if progress:
                    progress(min(b + batch_size, len(order)), len(order))
    finally:
        model.train(was_training)
    return out  # type: ignore[return-value]


def _result(total: float, n: int) -> dict[str, Any]:
    if n <= 0:
        return {"sum_logprob": 0.0, "n_tokens": 0, "mean_logprob": float("nan")}
    return {"sum_logprob": total, "n_tokens": n, "mean_logprob": total / n}


def _target_logprobs(logits, targets):
    import torch

    return torch.log_softmax(logits.float(), dim=-1).gather(1, targets[:, None]).squeeze(1)


def _selected_positions_forward(model):
    """Decoder hidden states for the whole batch, then the head on the selected positions only.
    None when the model does not expose its decoder and head, or rescales its logits."""
    get_decoder = getattr(model, "get_decoder", None)
    get_head = getattr(model, "get_output_embeddings", None)
    if not (callable(get_decoder) and callable(get_head)):
        return None
    try:
        decoder, head = get_decoder(), get_head()
    except (AttributeError, NotImplementedError):
        return None
    config = getattr(model, "config", None)
    if decoder is None or head is None or decoder is model or any(getattr(config, k, None) for k in _RESCALED_LOGITS):
        return None
    softcap = getattr(config, "final_logit_softcapping", None)

    def forward(ids, mask, rows, cols, targets):
        import torch

        hidden = decoder(input_ids=ids, attention_mask=mask).last_hidden_state
        logits = head(hidden[rows, cols])
        if softcap:  # as Gemma's head does after the matmul
            logits = torch.tanh(logits.float() / softcap) * softcap
        return _target_logprobs(logits, targets)

    return forward


def _full_logits_forward(model):
    def forward(ids, mask, rows, cols, targets):
        logits = model(input_ids=ids, attention_mask=mask).logits
        return _target_logprobs(logits[rows, cols], targets)

    return forward


def _autocast(model, device, precision: str):
    """bf16 autocast for "bf16", and for "auto" when the hardware runs bf16 natively and the model
    is in fp32; else the model's own dtype."""
    import torch

    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision {precision!r}: expected auto, fp32 or bf16")
    bf16 = precision == "bf16" or (precision == "auto" and next(model.parameters()).dtype == torch.float32
                                   and native_bf16(device.type))
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def native_bf16(device_type: str) -> bool:
    """Whether scoring on this kind of device runs in bf16 (autocast) under precision "auto"."""
    if device_type == "cpu":
        from expertune.train.device import cpu_has_native_bf16

        return cpu_has_native_bf16()
    import torch

    return device_type == "cuda" and torch.cuda.is_bf16_supported()
