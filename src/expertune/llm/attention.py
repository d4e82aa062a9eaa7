"""Decode-step attention over each row's own context, not the batch's padded width.

A batch of prompts of different lengths decodes as one batch (one pass over the weights per
step, which on a CPU is most of a step's cost), left-padded to the longest row. Plain SDPA then
reads every row's keys and values over the whole width: 26 short rows in a batch with a
388-token prompt each read ~500 columns for the ~200 they use, and on a 2-core CPU that padding
cost more than the weights. Here the rows (sorted longest first by the decoder) are cut into a
few contiguous slices, and each slice attends only over the columns its longest row uses.

Each slice is one call of torch's SDPA on the cache as stored (grouped-query heads folded into
the query, `_decode_step_attention`). The implementation is registered under its own name so a
model uses it only when asked (`use_row_slices`), and anything that does not pass
`attention_row_slices` (prefill, `generate`, scoring) gets transformers' own SDPA
(`sdpa_attention_forward`).
"""

from __future__ import annotations

from typing import Sequence

NAME = "expertune_sdpa"

# Cost of one more SDPA call per layer, in row-columns of attention it must save to pay (measured
# on a 2-core CPU with SmolLM2-135M: a call costs ~0.1 ms, a row-column ~0.15 us).
SLICE_COST = 512


def row_slices(spans: Sequence[int], width: int) -> list[tuple[int, int, int]]:
    """(first row, end row, first column) slices of a left-padded batch `width` columns wide whose
    rows hold `spans` tokens each: a small dynamic program over contiguous slices minimising the
    columns read (rows x the slice's longest span) plus SLICE_COST per slice. Right for rows in any
    order; it saves most when they are sorted by span, as the decoders keep them."""
    n = len(spans)
    best = [0.0] + [float("inf")] * n
    cut, longest = [0] * (n + 1), [0] * (n + 1)
    for end in range(1, n + 1):
        span = 0
        for start in range(end - 1, -1, -1):
            span = max(span, spans[start])
            cost = best[start] + (end - start) * span + SLICE_COST
            if cost < best[end]:
                best[end], cut[end], longest[end] = cost, start, span
    slices, end = [], n
    while end > 0:
        slices.append((cut[end], end, width - longest[end]))
        end = cut[end]
    return slices[::-1]


def _attention(module, query, key, value, attention_mask, attention_row_slices=None, **kwargs):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if attention_row_slices is None or query.shape[2] != 1 or (attention_mask is not None and attention_mask.shape[1] != 1):
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    return _decode_step_attention(query, key, value, attention_mask, attention_row_slices, kwargs.get("scaling")), None


def _decode_step_attention(query, key, value, mask, slices, scaling):
    """One new token per row, attending slice by slice, with each key/value head's query heads taken
    as that many query positions: SDPA then reads the cache as it is stored. Grouped-query models
    would otherwise repeat every key and value once per query head of their group at every step
    (transformers' repeat_kv, needed for SDPA with a padding mask on a CPU): on a 2-core CPU, a
    copy of the whole cache per layer that cost 5-15x the attention itself. Returns the output in
    transformers' layout (rows, 1, heads, head size)."""
    import torch

    rows, heads, _, size = query.shape
    kv_heads = key.shape[1]
    grouped = query.reshape(rows, kv_heads, heads // kv_heads, size)  # head h uses key/value head h // group
    outputs = []
    for start, end, first in slices:
        part_mask = None if mask is None else mask[start:end, ..., first:]
        outputs.append(torch.nn.functional.scaled_dot_product_attention(
            grouped[start:end], key[start:end, :, first:], value[start:end, :, first:], attn_mask=part_mask,
            scale=scaling))
    return torch.cat(outputs).reshape(rows, 1, heads, size)


def use_row_slices(model) -> bool:
    """Switch a model that runs transformers' SDPA to the sliced form (registered on first use);
    False, and the model unchanged, for any other attention implementation or a model class that
    cannot change its implementation after loading."""
    config = getattr(model, "config", None)
    current = getattr(config, "_attn_implementation", None)
    if current == NAME:
        return True
    if current != "sdpa":
        return False
    can_set = getattr(model, "_can_set_attn_implementation", None)  # private in transformers 5: asked only if there
    if can_set is not None and not can_set():
        return False
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    AttentionInterface.register(NAME, _attention)
    AttentionMaskInterface.register(NAME, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])
    model.set_attn_implementation(NAME)
    return config._attn_implementation == NAME
