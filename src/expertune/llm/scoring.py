"""Log-probability of completions under a causal LM, as training sees them.

The completion is the assistant turn as the one renderer (llm/render.py) marks it: the tokens of
the rendered conversation that follow the rendered prompt, end-of-turn token included — exactly
the tokens a training run computes its loss on. Used for confidence filtering (curate), held-out
perplexity and label scoring (evaluate); a tuned model passes its adapter's system-prompt policy.

Batches are right-padded, which under causal attention no real token sees, so a text's numbers do
not depend on what it is batched with (tested against one-by-one scoring). What makes it fast
(bench/confidence_scoring.py):
  - texts are sorted by length before batching, so a batch carries little padding, and run without
    a padding mask, which right padding does not need (the fused causal kernel is 4-10% faster
    than the masked one); results are returned in input order;
  - the output head and log-softmax run only on the positions that predict a completion token —
    the head is a vocabulary-wide matmul (a fifth of a 135M model's compute per position) and the
    log-softmax over the vocabulary is memory-bound, both wasted on prompt positions;
  - bf16 autocast where the hardware computes bf16 natively (train/device.py decides, as for
    training), inference mode (no autograd bookkeeping);
  - completions that share a prompt (a classifier's labels, DPO's chosen and rejected answers) run
    the prompt once (bench/label_scoring.py): examples whose rendered prompt tokens are identical —
    up to each one's own completion start, the split whole-sequence scoring uses — form a group; the
    prompt's last position predicts each completion's first token, and the completions' other
    tokens run packed into the prompt's row after its key/value cache, under a 4D attention mask
    that keeps each completion from seeing the others. A prompt no other example shares takes the
    whole-sequence path, as does every example of a model whose attention takes no custom mask or
    whose cache is not plain full attention (sliding windows).
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable

from expertune.llm.attention import NAME as SLICED_SDPA
from expertune.llm.base import Message
from expertune.llm.kvcache import cache_keyword, output_cache, plain_cache
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
    model as loaded, no autocast) or "bf16" (autocast even where emulated: slow, for tests); autocast
    applies to an fp32 model only, a model loaded in bf16 runs as it is whatever `precision` says;
    `progress(done, total)` is called after each batch. `share_prefixes=False` scores every
    example as a full sequence, even those whose prompts are shared (for tests and the bench)."""
    import torch

    rendered = [render([*messages, {"role": "assistant", "content": completion}], tokenizer, policy)
                for messages, completion in examples]
    out: list[dict[str, Any] | None] = [None] * len(rendered)
    body, head = _selected_positions_forward(model) or _full_logits_forward(model)
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    mask_kind = _mask_kind(model)
    groups = _shared_prefixes(rendered) if share_prefixes and mask_kind else []
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
                alone += _score_shared(body, head, rendered, groups, out, pad, device, batch_size, mask_kind, advance)
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
        rows, cols, targets = [], [], []
        for row, i in enumerate(batch):
            tokens = rendered[i].input_ids
            ids[row, : len(tokens)] = torch.tensor(tokens)
            # Position t predicts token t+1; the first token of a sequence has no prediction.
            for t in range(max(rendered[i].prompt_length, 1), len(tokens)):
                rows.append(row)
                cols.append(t - 1)
                targets.append(tokens[t])
        # No attention mask: under causal attention a right-padded row's real tokens see only the
        # tokens before them, all real, and the padding's positions are never read. A padding mask
        # would only cost: attention would leave the fused causal kernel for an explicit masked one.
        states, _ = body(ids.to(device), None, use_cache=False)
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


def _score_shared(body, head, rendered, groups, out, pad, device, batch_size, mask_kind, advance) -> list[int]:
    """Each shared prompt runs once (batches of `batch_size` prompts, right-padded, as whole
    sequences are); its last position predicts every completion's first token, and the completions'
    other tokens run in one more forward from the prompts' key/value cache. Returns the examples
    left to whole-sequence scoring: all of them when the model's cache is not plain full attention."""
    import torch

    groups = sorted(groups, key=lambda g: g[0])
    for b in range(0, len(groups), batch_size):
        batch = groups[b : b + batch_size]
        width = max(length for length, _ in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        for row, (length, members) in enumerate(batch):
            ids[row, :length] = torch.tensor(rendered[members[0]].input_ids[:length])
        # No mask, as in _score_whole; the padding's keys and values in the cache are masked out
        # of the continuations' attention below.
        states, cache = body(ids.to(device), None, use_cache=True)
        if not plain_cache(cache):
            return [i for _, members in groups[b:] for i in members]
        lengths = torch.tensor([length for length, _ in batch], dtype=torch.long, device=device)
        # One log-softmax row per prompt; its completions pick their first tokens from it.
        first = torch.log_softmax(head(states[torch.arange(len(batch), device=device), lengths - 1]).float(), dim=-1)
        _score_continuations(body, head, rendered, batch, cache, width, first, out, pad, device, mask_kind)
        advance(sum(len(members) for _, members in batch))
    return []


def _score_continuations(body, head, rendered, batch, cache, width, first, out, pad, device, mask_kind) -> None:
    """All completions of each prompt in `batch`, packed one after another into that prompt's row
    after its cached keys and values. A 4D mask lets each completion see its prompt's tokens (not
    the prompt batch's padding) and its own earlier tokens, never another completion's, and each
    completion's positions count on from its prompt's length: every completion is computed as if
    it followed its prompt alone, while the prompt's cache is neither recomputed nor copied."""
    import torch

    # Token t of a completion is predicted at position t-1: the prompt's last position for the
    # first one (`first`), then the completion's own tokens but its last.
    segments = []  # per row: (example, offset in the row, tokens fed)
    for length, members in batch:
        offset, row = 0, []
        for i in members:
            feed = rendered[i].input_ids[length:-1]
            row.append((i, offset, feed))
            offset += len(feed)
        segments.append(row)
    packed = max(sum(len(f) for _, _, f in row) for row in segments)
    sums, counts = {}, {}
    for r, (length, members) in enumerate(batch):
        for i in members:
            sums[i] = float(first[r, rendered[i].input_ids[length]])
            counts[i] = 1
    if packed:
        ids = torch.full((len(batch), packed), pad, dtype=torch.long)
        positions = torch.zeros((len(batch), packed), dtype=torch.long)
        allowed = torch.zeros((len(batch), 1, packed, width + packed), dtype=torch.bool)
        rows, cols, targets, owners = [], [], [], []
        for r, ((length, _), row) in enumerate(zip(batch, segments)):
            allowed[r, 0, :, :length] = True  # every query, padding too, sees its prompt
            for i, offset, feed in row:
                n = len(feed)
                if not n:
                    continue
                ids[r, offset : offset + n] = torch.tensor(feed)
                positions[r, offset : offset + n] = torch.arange(length, length + n)
                allowed[r, 0, offset : offset + n, width + offset : width + offset + n] = torch.ones(n, n).tril().bool()
                for t, target in enumerate(rendered[i].input_ids[length + 1 :]):
                    rows.append(r)
                    cols.append(offset + t)
                    targets.append(target)
                    owners.append(i)
        states, _ = body(ids.to(device), _attention_mask(allowed, mask_kind).to(device),
                         position_ids=positions.to(device), cache=cache, use_cache=True)
        logp = _target_logprobs(head(states[torch.tensor(rows, device=device), torch.tensor(cols, device=device)]),
                                torch.tensor(targets, dtype=torch.long, device=device)).double().cpu().tolist()
        for i, value in zip(owners, logp):
            sums[i] += value
            counts[i] += 1
    for i in sums:
        out[i] = _result(sums[i], counts[i])


# Attention implementations that take a custom 4D mask, and the form each takes it in: sdpa (and
# the decoders' sliced form of it) a boolean "may attend", eager an additive float mask.
_MASK_KINDS = {"sdpa": "bool", SLICED_SDPA: "bool", "eager": "additive"}


def _attention_mask(allowed, kind: str):
    import torch

    if kind == "bool":
        return allowed
    return torch.zeros(allowed.shape, dtype=torch.float32).masked_fill_(~allowed, torch.finfo(torch.float32).min)


def _mask_kind(model) -> str | None:
    config = getattr(model, "config", None)
    return _MASK_KINDS.get(getattr(config, "_attn_implementation", None) or "")


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

    keyword = cache_keyword(decoder.forward)

    def body(ids, mask, cache=None, **kwargs):
        if cache is not None:
            kwargs[keyword] = cache
        output = decoder(input_ids=ids, attention_mask=mask, **kwargs)
        return output.last_hidden_state, output_cache(output)

    def logits(hidden):
        import torch

        out = head(hidden)
        if softcap:  # as Gemma's head does after the matmul
            out = torch.tanh(out.float() / softcap) * softcap
        return out

    return body, logits


def _full_logits_forward(model):
    keyword = cache_keyword(getattr(model, "forward", model))

    def body(ids, mask, cache=None, **kwargs):
        if cache is not None:
            kwargs[keyword] = cache
        output = model(input_ids=ids, attention_mask=mask, **kwargs)
        return output.logits, output_cache(output)

    return body, lambda logits: logits


def _autocast(model, device, precision: str):
    """bf16 autocast of an fp32 model for "bf16", and for "auto" when the hardware runs bf16
    natively; else the model's own dtype."""
    import torch

    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision {precision!r}: expected auto, fp32 or bf16")
    # A model already in bf16 (LocalChatModel casts its weights) runs as it is.
    bf16 = next(model.parameters()).dtype == torch.float32 and (
        precision == "bf16" or (precision == "auto" and native_bf16(device.type)))
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def native_bf16(device_type: str) -> bool:
    """Whether scoring on this kind of device runs in bf16 (autocast) under precision "auto"."""
    if device_type == "cpu":
        from expertune.train.device import cpu_has_native_bf16

        return cpu_has_native_bf16()
    import torch

    return device_type == "cuda" and torch.cuda.is_bf16_supported()
