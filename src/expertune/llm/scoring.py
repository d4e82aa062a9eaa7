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
    share_prefixes: bool = True,
) -> list[dict[str, Any]]:
    """Per example {"sum_logprob", "n_tokens", "mean_logprob"} of the completion given the prompt
    messages, in input order. `model` is any causal LM returning `.logits` (PEFT models too).
    `precision` is "auto" (bf16 autocast where native, else the model's own dtype), "fp32" (the
    model as loaded, no autocast) or "bf16" (autocast even where emulated: slow, for tests);
    `progress(done, total)` is called after each batch. `share_prefixes=False` scores every
    example as a full sequence, even those whose prompts are shared (for tests and the bench)."""
    import torch

    rendered = [render([*messages, {"role": "assistant", "content": completion}], tokenizer, policy)
                for messages, completion in examples]
    out: list[dict[str, Any] | None] = [None] * len(rendered)
    body, head = _selected_positions_forward(model) or _full_logits_forward(model)
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    groups = _shared_prefixes(rendered) if share_prefixes else []
    shared = {i for _, members in groups for i in members}
    alone = [i for i in range(len(rendered)) if i not in shared]
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, len(rendered))

    was_training = model.training
    model.eval()
    try:
        # One autocast context for the whole loop: its cache keeps the bf16 copies of the weights
        # across batches instead of casting them again for every forward.
        with torch.inference_mode(), _autocast(model, device, precision):
            if groups:
                alone += _score_shared(body, head, rendered, groups, out, pad, device, batch_size, advance)
            _score_whole(body, head, rendered, alone, out, pad, device, batch_size, advance)
    finally:
        model.train(was_training)
    return out  # type: ignore[return-value]


def _score_whole(body, head, rendered, indices, out, pad, device, batch_size, advance) -> None:
    """Each example as one right-padded sequence, batches of similar lengths."""
    import torch

    order = sorted(indices, key=lambda i: len(rendered[i].input_ids))
    for b in range(0, len(order), batch_size):
        batch = order[b : b + batch_size]
        width = max(len(rendered[i].input_ids) for i in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        rows, cols, targets = [], [], []
        for row, i in enumerate(batch):
            tokens = rendered[i].input_ids
            ids[row, : len(tokens)] = torch.tensor(tokens)
            mask[row, : len(tokens)] = 1
            # Position t predicts token t+1; the first token of a sequence has no prediction.
            for t in range(max(rendered[i].prompt_length, 1), len(tokens)):
                rows.append(row)
                cols.append(t - 1)
                targets.append(tokens[t])
        states, _ = body(ids.to(device), mask.to(device), use_cache=False)
        rows_t = torch.tensor(rows, dtype=torch.long, device=device)
        logp = _target_logprobs(head(states[rows_t, torch.tensor(cols, dtype=torch.long, device=device)]),
                                torch.tensor(targets, dtype=torch.long, device=device))
        _collect(out, batch, rows, logp)
        advance(len(batch))


def _shared_prefixes(rendered) -> list[tuple[int, list[int]]]:
    """(prompt length, examples) for each prompt that two or more examples share: same token ids up
    to each one's own completion start, so the split is exactly the one whole-sequence scoring
    uses (a label whose first token merges with the end of the prompt gets a group of its own)."""
    by_prefix: dict[tuple[int, ...], list[int]] = {}
    for i, r in enumerate(rendered):
        if r.prompt_length >= 1 and r.prompt_length < len(r.input_ids):
            by_prefix.setdefault(tuple(r.input_ids[: r.prompt_length]), []).append(i)
    return [(len(prefix), members) for prefix, members in by_prefix.items() if len(members) > 1]


def _score_shared(body, head, rendered, groups, out, pad, device, batch_size, advance) -> list[int]:
    """Each shared prompt runs once (batches of `batch_size` prompts, right-padded); its last
    position predicts every completion's first token, and the completions' other tokens run from
    its key/value cache, repeated once per completion. Returns the examples left to whole-sequence
    scoring: all of them when the model's cache is not one whose rows can be copied."""
    import torch

    groups = sorted(groups, key=lambda g: g[0])
    for b in range(0, len(groups), batch_size):
        batch = groups[b : b + batch_size]
        width = max(length for length, _ in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (length, members) in enumerate(batch):
            ids[row, :length] = torch.tensor(rendered[members[0]].input_ids[:length])
            mask[row, :length] = 1
        ids, mask = ids.to(device), mask.to(device)
        states, cache = body(ids, mask, use_cache=True)
        layers = _plain_layers(cache)
        if layers is None:
            return [i for _, members in groups[b:] for i in members]
        lengths = torch.tensor([length for length, _ in batch], dtype=torch.long, device=device)
        # One log-softmax row per prompt; its completions pick their first tokens from it.
        first = torch.log_softmax(head(states[torch.arange(len(batch), device=device), lengths - 1]).float(), dim=-1)
        jobs = [(row, i) for row, (_, members) in enumerate(batch) for i in members]
        per_row = sum(k.element_size() * k[0].numel() + v.element_size() * v[0].numel() for k, v in layers)
        step = max(1, _CACHE_COPY_BYTES // max(per_row, 1))
        for c in range(0, len(jobs), step):
            chunk = jobs[c : c + step]
            _score_continuations(body, head, rendered, chunk, batch, layers, mask, first, out, pad, device)
            advance(len(chunk))
    return []


# Bytes of key/value cache copied for one batch of continuations (each continuation gets its own
# rows of its prompt's cache); bounds memory for long prompts and large models.
_CACHE_COPY_BYTES = 1 << 30


def _score_continuations(body, head, rendered, chunk, batch, layers, prefix_mask, first, out, pad, device) -> None:
    """The completions in `chunk` ((prompt row, example) pairs) after their prompts' cached keys and
    values: each row sees its prompt's tokens (the prompt batch's padding masked out) and then its
    own completion, at positions counted on from the prompt's real length."""
    import torch

    n = len(chunk)
    # Token t of the completion is predicted at position t-1: the prompt's last position for the
    # first one, then the completion's own tokens but the last.
    feeds = [rendered[i].input_ids[batch[row][0] : -1] for row, i in chunk]
    width = max(len(f) for f in feeds)
    logp = [first[row, rendered[i].input_ids[batch[row][0]]] for row, i in chunk]
    rows_of = torch.tensor([row for row, _ in chunk], dtype=torch.long, device=device)
    sums = torch.stack(logp).double().cpu()
    counts = [1] * n
    if width:
        ids = torch.full((n, width), pad, dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        for j, f in enumerate(feeds):
            if f:
                ids[j, : len(f)] = torch.tensor(f)
                mask[j, : len(f)] = 1
        lengths = torch.tensor([batch[row][0] for row, _ in chunk], dtype=torch.long)
        positions = lengths[:, None] + torch.arange(width)[None, :]
        cache = _cache_rows(layers, rows_of)
        full_mask = torch.cat([prefix_mask.index_select(0, rows_of), mask.to(device)], dim=1)
        states, _ = body(ids.to(device), full_mask, position_ids=positions.to(device), cache=cache, use_cache=True)
        rows, cols, targets = [], [], []
        for j, ((row, i), f) in enumerate(zip(chunk, feeds)):
            tokens = rendered[i].input_ids[batch[row][0] + 1 :]
            for t, target in enumerate(tokens):
                rows.append(j)
                cols.append(t)
                targets.append(target)
            counts[j] += len(tokens)
        if rows:
            rows_t = torch.tensor(rows, dtype=torch.long, device=device)
            rest = _target_logprobs(head(states[rows_t, torch.tensor(cols, dtype=torch.long, device=device)]),
                                    torch.tensor(targets, dtype=torch.long, device=device))
            sums.index_add_(0, torch.tensor(rows, dtype=torch.long), rest.double().cpu())
    for j, (_, i) in enumerate(chunk):
        out[i] = _result(float(sums[j]), counts[j])


def _plain_layers(cache) -> list[tuple[Any, Any]] | None:
    """(keys, values) per layer of a cache made of plain full-attention layers, whose rows can be
    copied per continuation; None for anything else (sliding windows, quantised or linear-attention
    layers, legacy tuples), which is scored as whole sequences instead."""
    from transformers import DynamicCache

    if type(cache) is not DynamicCache:
        return None
    if hasattr(cache, "layers"):  # transformers >= 4.56: one layer object each
        from transformers.cache_utils import DynamicLayer

        if not all(type(layer) is DynamicLayer and layer.is_initialized for layer in cache.layers):
            return None
        pairs = [(layer.keys, layer.values) for layer in cache.layers]
    else:  # earlier: parallel lists of tensors
        pairs = list(zip(cache.key_cache, cache.value_cache))
    if not pairs or not all(k is not None and k.dim() == 4 and k.numel() for k, _ in pairs):
        return None
    return pairs


def _cache_rows(layers, rows):
    """A new cache holding the given batch rows of every layer (a row may repeat)."""
    from transformers import DynamicCache

    cache = DynamicCache()
    for layer, (keys, values) in enumerate(layers):
        cache.update(keys.index_select(0, rows), values.index_select(0, rows), layer)
    return cache


def _cache_keyword(forward) -> str:
    """The name a forward takes its cache by: `cache` since transformers 5.x, `past_key_values` before."""
    import inspect

    try:
        return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"
    except (TypeError, ValueError):
        return "past_key_values"


def _output_cache(output):
    cache = getattr(output, "cache", None)
    return cache if cache is not None else getattr(output, "past_key_values", None)


def _collect(out, batch, rows, logp) -> None:
    import torch

    owner = torch.tensor(rows, dtype=torch.long)
    sums = torch.zeros(len(batch), dtype=torch.float64).index_add_(0, owner, logp.double().cpu())
    counts = torch.bincount(owner, minlength=len(batch)).tolist()
    for row, i in enumerate(batch):
        out[i] = _result(float(sums[row]), counts[row])


def _result(total: float, n: int) -> dict[str, Any]:
    if n <= 0:
        return {"sum_logprob": 0.0, "n_tokens": 0, "mean_logprob": float("nan")}
    return {"sum_logprob": total, "n_tokens": n, "mean_logprob": total / n}


def _target_logprobs(logits, targets):
    import torch

    return torch.log_softmax(logits.float(), dim=-1).gather(1, targets[:, None]).squeeze(1)


def _selected_positions_forward(model):
    """(body, head): the decoder's hidden states for the whole batch (and its cache), then the head
    on the selected positions only. None when the model does not expose its decoder and head, or
    rescales its logits."""
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

    keyword = _cache_keyword(decoder.forward)

    def body(ids, mask, cache=None, **kwargs):
        if cache is not None:
            kwargs[keyword] = cache
        output = decoder(input_ids=ids, attention_mask=mask, **kwargs)
        return output.last_hidden_state, _output_cache(output)

    def logits(hidden):
        import torch

        out = head(hidden)
        if softcap:  # as Gemma's head does after the matmul
            out = torch.tanh(out.float() / softcap) * softcap
        return out

    return body, logits


def _full_logits_forward(model):
    keyword = _cache_keyword(getattr(model, "forward", model))

    def body(ids, mask, cache=None, **kwargs):
        if cache is not None:
            kwargs[keyword] = cache
        output = model(input_ids=ids, attention_mask=mask, **kwargs)
        return output.logits, _output_cache(output)

    return body, lambda logits: logits


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
