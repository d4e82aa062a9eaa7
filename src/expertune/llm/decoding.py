"""Batched decoding for local models, faster than one `generate` call per batch on a CPU.

Prompts of similar length are prefilled together (left padding, so little is wasted on pad
tokens), their KV caches are merged into one batch (left-padded to the longest prompt, padding
masked out), and the batch decodes together, each row attending over its own columns only (see
llm/attention.py), so one batch serves prompts of any lengths. A row that reaches EOS leaves the
batch at once, so the remaining steps cost only what is still being written; `generate` keeps
computing finished rows until the last one stops.

`StepDecoder` is the same idea kept open (continuous batching, for the server): rows join the
running batch between steps (their prefilled caches are left-padded to the batch's width and
concatenated), each row's tokens go to its callback as they are chosen, and a row leaves the batch
when it stops, reaches its limit, is cancelled or its callback says stop. Columns that only hold
padding of rows that have left are trimmed, so the cache stays as wide as the oldest live row.

This works on models whose cache is a plain DynamicCache (Llama, Qwen, Mistral, Phi, SmolLM, ...).
For others (e.g. sliding-window layers) `decode` returns None and the caller uses `generate`;
`StepDecoder.add` raises UnsupportedCache.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from expertune.llm.attention import row_slices, use_row_slices
from expertune.llm.kvcache import cache_keyword, output_cache, plain_cache


# Grouping costs, in units of one row's share of a decode step (measured on a 2-core CPU with
# SmolLM2-135M: a forward step costs ~30 ms fixed (reading every weight, Python) + ~4 ms per row;
# a prompt token in a prefill ~1.4 ms, padding included).
STEP_COST = 7.0
PREFILL_TOKEN_COST = 0.35


def partition(lengths: Sequence[int], new_tokens: int, *, max_rows: int, token_budget: int,
              padding_cost: float = PREFILL_TOKEN_COST) -> list[list[int]]:
    """Indices sorted longest first, cut into contiguous groups by a small dynamic program
    minimising an estimated cost: padded prompt tokens, a fixed cost per forward pass, and per
    decode step a fixed cost plus one unit per row (costs measured, see STEP_COST). With
    `new_tokens` 0 it groups prompts for their prefill only: similar lengths share a pass, a long
    prompt gets its own instead of padding thirty short ones to its length. `padding_cost` is what
    a padded prompt position costs (a prefill token; 0 for decode batches whose prefill is grouped
    on its own and whose steps attend over each row's own columns, see llm/attention.py)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    n = len(order)
    best = [0.0] + [float("inf")] * n
    cut = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(max(0, end - max_rows), end):
            rows, longest = end - start, lengths[order[start]]  # sorted: the first is the longest
            if rows > 1 and rows * (longest + new_tokens) > token_budget:
                continue
            cost = best[start] + padding_cost * rows * longest + STEP_COST + new_tokens * (STEP_COST + rows)
            if cost < best[end]:
                best[end], cut[end] = cost, start
    groups, end = [], n
    while end > 0:
        groups.append(order[cut[end]:end])
        end = cut[end]
    return groups[::-1]


def draw(scores, generator, temperature: float, top_p: float = 1.0) -> int:
    """One token from one row of logits: temperature, then nucleus (top-p) truncation, drawn from
    the row's own generator; a row whose every token is masked keeps its argmax."""
    import torch

    probs = torch.softmax(scores.float() / temperature, dim=-1)
    if top_p < 1.0:
        sorted_p, sorted_i = probs.sort(dim=-1, descending=True)
        # keep the smallest prefix whose mass reaches top_p (the first token always stays)
        drop = sorted_p.cumsum(-1) - sorted_p >= top_p
        sorted_p[drop] = 0
        probs = torch.zeros_like(probs).scatter(-1, sorted_i, sorted_p)
    if not torch.isfinite(probs).all() or probs.sum() <= 0:
        return int(scores.argmax())
    return int(torch.multinomial(probs, 1, generator=generator))


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

        return torch.tensor([draw(scores[row], gen, self.temperature, self.top_p) for row, gen in enumerate(self.generators)],
                            dtype=torch.long)

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

        def __init__(self, buffers: list, length: int):
            super().__init__()
            self.buffers, self.length = buffers, length
            self.dtype, self.device, self.is_initialized = buffers[0].dtype, buffers[0].device, True
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

        def trim_front(self, n: int) -> None:
            """Drop the first n positions (padding no live row attends to)."""
            self.buffers = [b[:, :, n:] for b in self.buffers]
            self.length -= n
            self._views()

    return PreallocatedLayer


def _grow(used, states):
    import torch

    return torch.cat([used, states], dim=-2)


def _mergeable(cache) -> bool:
    """Plain full-attention layers, one object each (transformers >= 4.56): rows can be merged."""
    return plain_cache(cache) and hasattr(cache, "layers")


def merge_caches(parts, rows: int, width: int, capacity: int):
    """One cache of preallocated layers holding `rows` rows from the parts, each part given as its
    layers' (keys, values) and the places of its rows in the merged batch (a slice, or a tensor of
    indices). Every row is right-aligned at column `width` (left padding, which the mask hides but
    must hold finite numbers: zeros), with room up to `capacity` columns. Each tensor is written
    once into memory allocated once: on a CPU, fresh memory and extra copies of a 32-row cache
    cost seconds (padding, concatenating and copying it again took 7 s of a 60 s generation)."""
    from transformers.cache_utils import DynamicCache

    layer_class = _preallocated_layer_class()
    layers = []
    for j in range(len(parts[0][0])):
        buffers = []
        for kind in (0, 1):  # keys, values
            sample = parts[0][0][j][kind]
            buffer = sample.new_empty((rows, sample.shape[1], capacity, sample.shape[3]))
            for part_layers, places in parts:
                states = part_layers[j][kind]
                start = width - states.shape[-2]
                buffer[places, :, :start] = 0
                buffer[places, :, start:width] = states
            buffers.append(buffer)
        layers.append(layer_class(buffers, width))
    cache = DynamicCache()
    cache.layers = layers
    return cache


def left_pad(rows: list[list[int]], pad_id: int):
    """Token ids and attention mask of rows padded on the left to the longest one."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for j, r in enumerate(rows):
        ids[j, width - len(r):] = torch.tensor(r, dtype=torch.long)
        mask[j, width - len(r):] = 1
    return ids, mask


def last_position(width: int):
    """`logits_to_keep` for a prefill of `width` positions that needs the last one's logits. As an
    index, transformers gathers a contiguous [rows, 1, hidden] copy (a few kilobytes), where `1`
    slices a strided view of the hidden states: a profile of a bf16 generation showed the head's
    linear on that view falling back to a batched matmul that copied the head weight (vocabulary x
    hidden) once per row, 3.7 s of a 32-prompt run. (With torch 2.13 on an AVX2 CPU neither form
    copies; the contiguous one is never worse.)"""
    import torch

    return torch.tensor([width - 1])


def _slices_keyword(sliced: bool, mask) -> dict:
    """The keyword that lets a decode step attend over each row's own columns (llm/attention.py)
    of a left-padded `mask`."""
    return {"attention_row_slices": row_slices(mask.sum(-1).tolist(), mask.shape[1])} if sliced else {}


def decode(model, rows: list[list[int]], buckets: list[list[int]], *, pad_id: int, eos_ids: set[int],
           max_new_tokens: int, min_new_tokens: int = 0, sampler: SeededSampler | None = None) -> list[list[int]] | None:
    """New tokens per row (ending with the EOS token when the row stopped), or None when the
    model's cache cannot be merged. `buckets` partitions the row indices for the prefill;
    `sampler` None means greedy. Call under torch.inference_mode()."""
    import torch
    import torch.nn.functional as F

    width = max(len(r) for r in rows)
    order: list[int] = []
    parts, masks, logits = [], [], []
    for bucket in buckets:
        ids, mask = left_pad([rows[i] for i in bucket], pad_id)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding must not shift positions
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                    logits_to_keep=last_position(ids.shape[1]))
        cache = output_cache(out)
        if not _mergeable(cache):
            return None
        parts.append(([(layer.keys, layer.values) for layer in cache.layers], slice(len(order), len(order) + len(bucket))))
        masks.append(F.pad(mask, (width - ids.shape[1], 0)))  # left-pad this bucket to the longest prompt
        logits.append(out.logits[:, -1, :])
        order.extend(bucket)
    cache = merge_caches(parts, len(rows), width, width + max_new_tokens)
    del parts
    mask, scores = torch.cat(masks), torch.cat(logits)
    if sampler is not None:
        sampler.keep(order)
    eos = torch.tensor(sorted(eos_ids), dtype=torch.long)
    keyword = cache_keyword(model.forward)
    alive = list(order)  # batch position -> row index, longest prompt first (the buckets are)
    sliced = use_row_slices(model)
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
        out = model(input_ids=chosen[:, None], attention_mask=mask, position_ids=positions, use_cache=True,
                    **{keyword: cache}, **_slices_keyword(sliced, mask))
        scores = out.logits[:, -1, :]
    return tokens


# A prefill pass of the rows joining together: at most this many rows and padded prompt tokens.
PREFILL_ROWS = 32
PREFILL_TOKENS = 32 * 1024


class UnsupportedCache(RuntimeError):
    """The model's KV cache is not a plain DynamicCache, so rows cannot join a running batch."""


@dataclass(eq=False)
class DecodeRow:
    """One sequence being generated by a StepDecoder.

    `on_token(token)` is called (on the decoding thread) for every chosen token that is not EOS;
    returning False stops the row (finish reason "stop"), e.g. when a stop string appeared.
    `on_finish(row)` is called once when the row leaves the batch, with `finish_reason` set to
    "stop", "length", "cancelled" or "error" (then `error` says why)."""

    prompt: list[int]
    max_new_tokens: int
    eos_ids: frozenset[int]
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 1.0
    seed: int = 0
    min_new_tokens: int = 0  # EOS is suppressed until this many tokens exist (benchmarks, forced lengths)
    on_token: Callable[[int], bool | None] | None = None
    on_finish: Callable[["DecodeRow"], None] | None = None
    tokens: list[int] = field(default_factory=list)
    finish_reason: str | None = None
    error: str | None = None
    cancelled: bool = False
    generator: Any = None

    def cancel(self) -> None:
        """Ask the decoder to drop this row before its next step (safe from any thread)."""
        self.cancelled = True

    def finish(self, reason: str, error: str | None = None) -> None:
        if self.finish_reason is None:
            self.finish_reason, self.error = reason, error
            if self.on_finish is not None:
                self.on_finish(self)


class StepDecoder:
    """Continuous batching over one model: `add` rows at any time, `step` advances every live row
    by one token. Not thread-safe: one thread calls add/step (rows may be cancelled from any)."""

    def __init__(self, model, *, pad_id: int):
        self.model = model
        self.pad_id = pad_id
        self.rows: list[DecodeRow] = []
        self.cache = None
        self.mask = None  # rows x cache width; 0 marks left padding
        self.scores = None  # rows x vocab: the distribution of each row's next token
        self.cache_keyword = cache_keyword(model.forward)  # read once: inspecting a signature every step costs
        self.sliced = use_row_slices(model)

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, rows: list[DecodeRow]) -> None:
        """Prefill `rows` (similar lengths together, see `partition`) and merge them into the
        running batch with one copy of the cache. Call under torch.inference_mode()."""
        import torch

        rows = [r for r in rows if not r.cancelled]
        if not rows:
            return
        for r in rows:
            if r.temperature > 0 and r.generator is None:
                r.generator = torch.Generator().manual_seed(int(r.seed) % (2**63))
        parts = [] if self.cache is None else [([(layer.keys, layer.values) for layer in self.cache.layers], self.mask)]
        scores = [] if self.scores is None else [self.scores]
        order = list(self.rows)
        for group in partition([len(r.prompt) for r in rows], 0, max_rows=PREFILL_ROWS, token_budget=PREFILL_TOKENS):
            part = [rows[i] for i in group]
            ids, mask = left_pad([r.prompt for r in part], self.pad_id)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding must not shift positions
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                             logits_to_keep=last_position(ids.shape[1]))
            cache = output_cache(out)
            if not _mergeable(cache):
                raise UnsupportedCache(f"{type(self.model).__name__}: its cache cannot be batched step by step")
            parts.append(([(layer.keys, layer.values) for layer in cache.layers], mask))
            scores.append(out.logits[:, -1, :])
            order += part
        place = self._rebuild(parts, order)
        self.scores = torch.cat(scores)[place]
        self.rows = [order[j] for j in place]

    def _rebuild(self, parts, rows: list[DecodeRow]) -> list[int]:
        """One preallocated cache holding every part's rows (each part: its layers' keys and
        values, and its mask), left-padded to one width, with room for the longest generation.
        Rows are put longest context first, so that decode steps attend over few slices
        (llm/attention.py); as every row grows by one token a step, they stay in that order.
        Returns that order (indices into `rows`)."""
        import torch
        import torch.nn.functional as F

        width = max(mask.shape[1] for _, mask in parts)
        capacity = width + max(r.max_new_tokens - len(r.tokens) for r in rows)
        order = sorted(range(len(rows)), key=lambda j: -len(rows[j].prompt) - len(rows[j].tokens))
        place = torch.empty(len(rows), dtype=torch.long)
        place[torch.tensor(order, dtype=torch.long)] = torch.arange(len(rows))  # where each row goes
        start, placed = 0, []
        for layers, mask in parts:
            placed.append((layers, place[start:start + mask.shape[0]]))
            start += mask.shape[0]
        self.cache = merge_caches(placed, len(rows), width, capacity)
        self.mask = torch.cat([F.pad(mask, (width - mask.shape[1], 0)) for _, mask in parts])[torch.tensor(order)]
        return order

    def step(self) -> None:
        """Choose one token for every live row, let finished rows leave, then run the forward pass
        that gives the survivors' next distributions. Call under torch.inference_mode()."""
        import torch

        if not self.rows:
            return
        for j, row in enumerate(self.rows):
            if len(row.tokens) < row.min_new_tokens and row.eos_ids:
                self.scores[j, sorted(row.eos_ids)] = float("-inf")
        greedy = self.scores.argmax(-1).tolist()
        keep = []
        for j, row in enumerate(self.rows):
            if row.cancelled:
                row.finish("cancelled")
                continue
            token = draw(self.scores[j], row.generator, row.temperature, row.top_p) if row.temperature > 0 else greedy[j]
            row.tokens.append(token)
            try:
                wanted = token in row.eos_ids or row.on_token is None or row.on_token(token) is not False
            except Exception as err:  # one row's callback failing must not end the others
                row.finish("error", f"{type(err).__name__}: {err}")
                continue
            if token in row.eos_ids or not wanted:
                row.finish("stop")
            elif len(row.tokens) >= row.max_new_tokens:
                row.finish("length")
            else:
                keep.append(j)
        chosen = torch.tensor([self.rows[j].tokens[-1] for j in keep], dtype=torch.long)
        if len(keep) < len(self.rows):
            self._select(keep)
        if not self.rows:
            return
        self.mask = torch.cat([self.mask, self.mask.new_ones((len(self.rows), 1))], dim=-1)
        positions = self.mask.sum(-1, keepdim=True) - 1
        out = self.model(input_ids=chosen[:, None], attention_mask=self.mask, position_ids=positions, use_cache=True,
                         **{self.cache_keyword: self.cache}, **_slices_keyword(self.sliced, self.mask))
        self.scores = out.logits[:, -1, :]

    def _select(self, keep: list[int]) -> None:
        """Keep only the rows at `keep`; trim the leading columns that are padding for all of them."""
        import torch

        self.rows = [self.rows[j] for j in keep]
        if not self.rows:
            self.cache = self.mask = self.scores = None
            return
        index = torch.tensor(keep, dtype=torch.long)
        self.cache.batch_select_indices(index)
        self.mask, self.scores = self.mask[index], self.scores[index]
        unused = int(self.mask.any(0).long().argmax())  # the first column some live row attends to
        if unused:
            for layer in self.cache.layers:
                layer.trim_front(unused)
            self.mask = self.mask[:, unused:]

    def fail(self, error: str) -> None:
        """End every row with finish reason "error" (e.g. the forward pass raised)."""
        rows, self.rows = self.rows, []
        self.cache = self.mask = self.scores = None
        for row in rows:
            row.finish("error", error)
