"""Batched decoding for local models, faster than one `generate` call per batch on a CPU.

Prompts of similar length are prefilled together (left padding, so little is wasted on pad
tokens), their KV caches are merged into one batch (left-padded to the longest prompt, padding
masked out), and the batch decodes together. A row that reaches EOS leaves the batch at once, so
the remaining steps cost only what is still being written; `generate` keeps computing finished
rows until the last one stops.

This works on models whose cache is a plain DynamicCache (Llama, Qwen, Mistral, Phi, SmolLM, ...).
For others (e.g. sliding-window layers) `decode` returns None and the caller uses `generate`.
"""

from __future__ import annotations

from typing import Sequence


class SeededSampler:
    """Temperature / top-p sampling with one torch.Generator per row.

    Each row draws exactly once per step from its own generator, so its text depends on its own
    seed only, whatever else shares the batch. Usable directly (`choose`) or as a logits processor
    for `generate` (it then leaves only the drawn token finite, so greedy search picks it)."""

    def __init__(self, seeds: Sequence[int], temperature: float, top_p: float = 1.0):
        import torch

        self.generators = [torch.Generator().manual_seed(int(s) % (2**63)) for s in seeds]
        self.temperature = temperature
        self.top_p = top_p

    def choose(self, scores):
        import torch

        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        if self.top_p < 1.0:
            sorted_p, sorted_i = probs.sort(dim=-1, descending=True)
            # keep the smallest prefix whose mass reaches top_p (the first token always stays)
            drop = sorted_p.cumsum(-1) - sorted_p >= self.top_p
            sorted_p[drop] = 0
            probs = torch.zeros_like(probs).scatter(-1, sorted_i, sorted_p)
        out = torch.empty(len(self.generators), dtype=torch.long)
        for row, gen in enumerate(self.generators):
            p = probs[row]
            if not torch.isfinite(p).all() or p.sum() <= 0:  # e.g. every token masked: keep the argmax
                out[row] = int(scores[row].argmax())
            else:
                out[row] = int(torch.multinomial(p, 1, generator=gen))
        return out

    def keep(self, rows: Sequence[int]) -> None:
        self.generators = [self.generators[i] for i in rows]

    def __call__(self, input_ids, scores):  # the logits-processor form, for generate
        import torch

        choice = self.choose(scores)
        out = torch.full_like(scores, float("-inf"))
        out[torch.arange(len(choice)), choice] = 0.0
        return out


def _preallocated_layer_class():
    from transformers.cache_utils import DynamicLayer

    class PreallocatedLayer(DynamicLayer):
        """A DynamicLayer whose keys/values live in a buffer sized for the whole generation:
        each step writes one position in place instead of concatenating (copying) the whole
        cache, which at 32 rows x 450 positions cost a quarter of every decode step."""

        def __init__(self, keys, values, capacity: int):
            super().__init__()
            batch, heads, length, dim = keys.shape
            self.buffers = [keys.new_zeros((batch, heads, capacity, dim)), values.new_zeros((batch, heads, capacity, dim))]
            self.buffers[0][:, :, :length] = keys
            self.buffers[1][:, :, :length] = values
            self.length = length
            self.dtype, self.device, self.is_initialized = keys.dtype, keys.device, True
            self._views()

        def _views(self) -> None:
            self.keys, self.values = (b[:, :, : self.length] for b in self.buffers)

        def update(self, key_states, value_states, *args, **kwargs):
            n = key_states.shape[-2]
            if self.length + n > self.buffers[0].shape[-2]:  # not expected (sized for the generation): grow
                self.buffers = [_grow(b[:, :, : self.length], s) for b, s in zip(self.buffers, (key_states, value_states))]
            else:
                self.buffers[0][:, :, self.length:self.length + n] = key_states
                self.buffers[1][:, :, self.length:self.length + n] = value_states
            self.length += n
            self._views()
            return self.keys, self.values

        def get_seq_length(self) -> int:
            return self.length

        def batch_select_indices(self, indices) -> None:
            self.buffers = [b[indices] for b in self.buffers]
            self._views()

    return PreallocatedLayer


def _grow(used, states):
    import torch

    return torch.cat([used, states], dim=-2)


def _plain(cache) -> bool:
    from transformers.cache_utils import DynamicCache, DynamicLayer

    return isinstance(cache, DynamicCache) and all(type(layer) is DynamicLayer for layer in cache.layers)


def _left_pad(rows: list[list[int]], pad_id: int, width: int):
    import torch

    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for j, r in enumerate(rows):
        ids[j, width - len(r):] = torch.tensor(r, dtype=torch.long)
        mask[j, width - len(r):] = 1
    return ids, mask


def decode(model, rows: list[list[int]], buckets: list[list[int]], *, pad_id: int, eos_ids: set[int],
           max_new_tokens: int, min_new_tokens: int = 0, sampler: SeededSampler | None = None) -> list[list[int]] | None:
    """New tokens per row (ending with the EOS token when the row stopped), or None when the
    model's cache cannot be merged. `buckets` partitions the row indices for the prefill;
    `sampler` None means greedy. Call under torch.inference_mode()."""
    import torch
    import torch.nn.functional as F
    from transformers.cache_utils import DynamicCache

    width = max(len(r) for r in rows)
    order: list[int] = []
    layers: list[tuple[list, list]] | None = None
    masks, logits = [], []
    for bucket in buckets:
        ids, mask = _left_pad([rows[i] for i in bucket], pad_id, max(len(rows[i]) for i in bucket))
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding must not shift positions
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
        cache = out.past_key_values
        if not _plain(cache):
            return None
        extra = width - ids.shape[1]  # left-pad this bucket's cache to the longest prompt
        if layers is None:
            layers = [([], []) for _ in cache.layers]
        for (keys, values), layer in zip(layers, cache.layers):
            keys.append(F.pad(layer.keys, (0, 0, extra, 0)))
            values.append(F.pad(layer.values, (0, 0, extra, 0)))
        masks.append(F.pad(mask, (extra, 0)))
        logits.append(out.logits[:, -1, :])
        order.extend(bucket)
    layer_class = _preallocated_layer_class()
    cache = DynamicCache()
    cache.layers = [layer_class(torch.cat(k), torch.cat(v), width + max_new_tokens) for k, v in layers]
    mask, scores = torch.cat(masks), torch.cat(logits)
    if sampler is not None:
        sampler.keep(order)
    eos = torch.tensor(sorted(eos_ids), dtype=torch.long)
    alive = list(order)  # batch position -> row index
    tokens: list[list[int]] = [[] for _ in rows]
    for step in range(max_new_tokens):
        if step < min_new_tokens and len(eos):
            scores[:, eos] = float("-inf")
        chosen = sampler.choose(scores) if sampler is not None else scores.argmax(-1)
        for row, t in zip(alive, chosen.tolist()):
            tokens[row].append(t)
        if step == max_new_tokens - 1:
            break
        keep = [j for j, t in enumerate(chosen.tolist()) if t not in eos_ids]
        if not keep:
            break
        if len(keep) < len(alive):  # finished rows leave the batch
            index = torch.tensor(keep, dtype=torch.long)
            cache.batch_select_indices(index)
            mask, chosen = mask[index], chosen[index]
            alive = [alive[j] for j in keep]
            if sampler is not None:
                sampler.keep(keep)
        mask = torch.cat([mask, mask.new_ones((len(alive), 1))], dim=-1)
        positions = mask.sum(-1, keepdim=True) - 1
        out = model(input_ids=chosen[:, None], attention_mask=mask, position_ids=positions, past_key_values=cache, use_cache=True)
        scores = out.logits[:, -1, :]
    return tokens
