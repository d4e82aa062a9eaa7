"""Local chat models on transformers: batched generation and next-token log-probabilities.

Speed on CPU comes from batching: prompts are sorted by length and generated in left-padded
batches with the KV cache, under torch.inference_mode. Sampling is seeded per conversation
(each row draws from its own torch.Generator), so an answer depends on its prompt, parameters
and seed, not on which other prompts shared its batch: that is what makes the generation cache
sound.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from expertune.errors import ConfigError
from expertune.llm.adapters import AdapterInfo, read_adapter
from expertune.llm.base import Conversation, GenParams, Generation

DEFAULT_BATCH_SIZE = 32
# Upper bound on padded tokens per batch (prompt + new tokens), so long prompts get smaller batches.
DEFAULT_TOKEN_BUDGET = 32 * 1536
# Cost of one forward step (reading every weight once, Python overhead) in units of one token's
# compute, for sizing batches; ~16 on CPUs (measured order of magnitude for 135M-1B models).
STEP_COST = 16


def configure_threads() -> int:
    """Use the cores this process may run on (EXPERTUNE_THREADS overrides): torch's default can
    count cores of the whole machine, which oversubscribes a shared or containerised CPU."""
    import torch

    wanted = os.environ.get("EXPERTUNE_THREADS")
    try:
        n = int(wanted) if wanted else len(os.sched_getaffinity(0))
    except (AttributeError, ValueError):
        n = os.cpu_count() or 1
    n = max(1, n)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def base_identity(base: str) -> tuple[Any, str]:
    """The resolved base model and its cache identity (sha256 of the source weights)."""
    from expertune.models.resolve import file_sha256, resolve

    resolved = resolve(base)
    if resolved.sha256:
        return resolved, resolved.sha256
    folder = Path(resolved.path)
    shards = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    if not shards:  # a hub id: the name (and whatever revision the hub serves) is all we know
        return resolved, "hub:" + resolved.path
    h = hashlib.sha256()
    for shard in shards:
        h.update(f"{shard.name}:{file_sha256(shard)}\n".encode())
    return resolved, h.hexdigest()


def model_id_for(base_sha: str, adapter: AdapterInfo | None) -> str:
    if adapter is None:
        return f"local:{base_sha}"
    if adapter.kind == "full":
        return f"local-full:{adapter.sha256}"
    return f"local:{base_sha}+lora:{adapter.sha256}"


class LocalChatModel:
    """A base model (any name expertune.models.resolve accepts), optionally with an adapter.

    `adapter` is an adapter folder or a registry reference (`name`, `name@3`, `name@current`,
    resolved in the workspace of the current folder). The tokenizer, and so the chat template,
    comes from the adapter folder: evaluation renders conversations exactly as training did.
    LoRA weights are merged into the base for inference (same outputs, no per-layer overhead).
    """

    def __init__(self, base: str, adapter: str | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 token_budget: int = DEFAULT_TOKEN_BUDGET, adapter_info: AdapterInfo | None = None):
        self.base = base
        self.adapter = adapter_info or (_adapter_info(adapter) if adapter else None)
        self.batch_size = batch_size
        self.token_budget = token_budget
        self.resolved, self.base_sha256 = base_identity(base)
        self.id = model_id_for(self.base_sha256, self.adapter)
        self._model = None
        self._tokenizer = None

    # -- loading ------------------------------------------------------------------------------
    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = self._load_tokenizer()
        return self._tokenizer

    @property
    def model(self):
        if self._model is None:
            self._model = self._load_model()
        return self._model

    def _load_tokenizer(self):
        from expertune.models import load_tokenizer

        if self.adapter is None:
            tok = load_tokenizer(self.resolved)
        else:
            from transformers import AutoTokenizer

            folder = Path(self.adapter.path)
            if not (folder / "tokenizer_config.json").is_file():
                raise ConfigError(f"{folder}: the adapter has no tokenizer files; save the tokenizer (with its chat "
                                  "template) next to the adapter so evaluation renders prompts as training did")
            tok = AutoTokenizer.from_pretrained(folder)
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token
        if not tok.chat_template:
            where = self.adapter.path if self.adapter else self.base
            raise ConfigError(f"{where}: the tokenizer has no chat template; expertune needs one to render conversations")
        tok.padding_side = "left"  # decoder-only batches: padding must not sit between prompt and answer
        return tok

    def _load_model(self):
        from expertune.models import load_model

        configure_threads()
        if self.adapter is not None and self.adapter.kind == "full":
            model = load_model(self.adapter.path)
        else:
            model = load_model(self.resolved)
            if self.adapter is not None:
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, self.adapter.path).merge_and_unload()
        model.eval()
        # Frozen weights instead of a process-wide torch.set_grad_enabled(False), which would
        # silently break any training later in the same process.
        model.requires_grad_(False)
        return model

    def close(self) -> None:
        """Drop the weights (the harness loads one candidate at a time)."""
        self._model = None

    # -- rendering ----------------------------------------------------------------------------
    def render(self, conversation: Conversation, prefix: str = "") -> str:
        """The prompt text of a conversation, ending with the assistant generation prompt."""
        return self.tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True) + prefix

    def _encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]

    def _batches(self, lengths: list[int], extra: int) -> list[list[int]]:
        """Indices cut into batches of similar length: sorted longest first, then partitioned by a
        small dynamic program minimising an estimated cost (padded prompt tokens, plus per decode
        step a fixed cost for reading the weights and one unit per row), within batch_size and the
        padded-token budget. One long prompt thus gets its own small batch instead of padding 31
        short ones to its length; equal lengths still fill whole batches."""
        order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
        n = len(order)
        best = [0.0] + [float("inf")] * n
        cut = [0] * (n + 1)
        for end in range(1, n + 1):
            for start in range(max(0, end - self.batch_size), end):
                rows, longest = end - start, lengths[order[start]]  # sorted: the first is the longest
                if rows > 1 and rows * (longest + extra) > self.token_budget:
                    continue
                cost = best[start] + rows * longest + STEP_COST + extra * (STEP_COST + rows)
                if cost < best[end]:
                    best[end], cut[end] = cost, start
        batches, end = [], n
        while end > 0:
            batches.append(order[cut[end]:end])
            end = cut[end]
        return batches[::-1]

    def _pad(self, rows: list[list[int]]):
        import torch

        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, r in enumerate(rows):
            ids[j, width - len(r):] = torch.tensor(r, dtype=torch.long)
            mask[j, width - len(r):] = 1
        return ids, mask

    # -- generation ---------------------------------------------------------------------------
    def eos_ids(self) -> set[int]:
        ids = self.model.generation_config.eos_token_id
        ids = set(ids if isinstance(ids, (list, tuple)) else [ids] if ids is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    def generate(self, conversations: list[Conversation], params: GenParams, *, seeds: Sequence[int] | None = None,
                 min_new_tokens: int = 0, progress: Callable[[int, int], None] | None = None) -> list[Generation]:
        """One answer per conversation. `seeds` gives each conversation its own seed (default:
        params.seed for all); `min_new_tokens` suppresses EOS until that many tokens exist
        (benchmarks use it to force equal lengths)."""
        import torch

        if not conversations:
            return []
        seeds = list(seeds) if seeds is not None else [params.seed] * len(conversations)
        prompts = self._encode([self.render(c) for c in conversations])
        out: list[Generation | None] = [None] * len(conversations)
        done = 0
        for batch in self._batches([len(p) for p in prompts], params.max_new_tokens):
            started = time.perf_counter()
            try:
                with torch.inference_mode():
                    rows = self._generate_batch([prompts[i] for i in batch], params, [seeds[i] for i in batch], min_new_tokens)
            except (RuntimeError, ValueError) as err:  # e.g. out of memory: those rows fail, others go on
                rows = [Generation("", "error", len(prompts[i]), 0, error=f"{type(err).__name__}: {err}") for i in batch]
            seconds = (time.perf_counter() - started) / len(batch)
            for i, gen in zip(batch, rows):
                gen.extra["seconds"] = seconds
                out[i] = gen
            done += len(batch)
            if progress:
                progress(done, len(conversations))
        return out  # type: ignore[return-value]

    def _generate_batch(self, rows: list[list[int]], params: GenParams, seeds: list[int], min_new_tokens: int) -> list[Generation]:
        from transformers import GenerationConfig, LogitsProcessorList

        ids, mask = self._pad(rows)
        eos = sorted(self.eos_ids())
        config = GenerationConfig(
            do_sample=False,  # sampling, when asked for, is done by SeededSampler below
            max_new_tokens=params.max_new_tokens, min_new_tokens=min_new_tokens or None,
            eos_token_id=eos, pad_token_id=self.tokenizer.pad_token_id, use_cache=True,
        )
        processors = LogitsProcessorList()
        if params.temperature > 0:
            processors.append(SeededSampler(seeds, params.temperature, params.top_p))
        result = self.model.generate(input_ids=ids, attention_mask=mask, generation_config=config,
                                     logits_processor=processors)
        new = result[:, ids.shape[1]:].tolist()
        out = []
        for prompt, tokens in zip(rows, new):
            stop = next((k for k, t in enumerate(tokens) if t in eos), None)
            kept = tokens if stop is None else tokens[:stop]
            text = self.tokenizer.decode(kept, skip_special_tokens=True)
            out.append(Generation(text=text, finish_reason="length" if stop is None else "stop",
                                  prompt_tokens=len(prompt), completion_tokens=len(kept) + (stop is not None)))
        return out

    # -- scoring ------------------------------------------------------------------------------
    def next_token_logprobs(self, conversations: list[Conversation], candidates: list[str], *,
                            prefix: str = "") -> list[dict[str, float]]:
        """Log-probabilities of each candidate's first token at the position right after the
        generation prompt (plus `prefix`, text the assistant turn starts with). Candidates must
        start with distinct tokens, e.g. "A"/"B" or "1".."5"."""
        import torch

        token_ids = self.candidate_token_ids(candidates)
        prompts = self._encode([self.render(c, prefix) for c in conversations])
        out: list[dict[str, float] | None] = [None] * len(conversations)
        with torch.inference_mode():
            for batch in self._batches([len(p) for p in prompts], 0):
                ids, mask = self._pad([prompts[i] for i in batch])
                # Left padding shifts positions unless they are given: count from each row's first token.
                positions = (mask.cumsum(-1) - 1).clamp(min=0)
                logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=1).logits[:, -1, :]
                logprobs = torch.log_softmax(logits.float(), dim=-1)
                for j, i in enumerate(batch):
                    out[i] = {c: float(logprobs[j, t]) for c, t in zip(candidates, token_ids)}
        return out  # type: ignore[return-value]

    def candidate_token_ids(self, candidates: list[str]) -> list[int]:
        ids = []
        for c in candidates:
            toks = self.tokenizer(c, add_special_tokens=False)["input_ids"]
            if not toks:
                raise ConfigError(f"candidate {c!r} encodes to no token")
            ids.append(toks[0])
        if len(set(ids)) != len(ids):
            raise ConfigError(f"candidates {candidates} share a first token; choose labels that start differently")
        return ids


class SeededSampler:
    """Temperature / top-p sampling with one torch.Generator per row, as a logits processor.

    It leaves only the drawn token finite, so generate's greedy step picks it. Each row consumes
    exactly one draw per step whatever the batch holds, so its text depends on its own seed only.
    """

    def __init__(self, seeds: Sequence[int], temperature: float, top_p: float = 1.0):
        import torch

        self.generators = [torch.Generator().manual_seed(int(s) % (2**63)) for s in seeds]
        self.temperature = temperature
        self.top_p = top_p

    def __call__(self, input_ids, scores):
        import torch

        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        if self.top_p < 1.0:
            sorted_p, sorted_i = probs.sort(dim=-1, descending=True)
            # keep the smallest prefix whose mass reaches top_p (the first token always stays)
            drop = sorted_p.cumsum(-1) - sorted_p >= self.top_p
            sorted_p[drop] = 0
            probs = torch.zeros_like(probs).scatter(-1, sorted_i, sorted_p)
        out = torch.full_like(scores, float("-inf"))
        for row, gen in enumerate(self.generators):
            p = probs[row]
            if not torch.isfinite(p).all() or p.sum() <= 0:  # e.g. every token masked: keep the argmax
                choice = int(scores[row].argmax())
            else:
                choice = int(torch.multinomial(p, 1, generator=gen))
            out[row, choice] = 0.0
        return out


def _adapter_info(ref: str) -> AdapterInfo:
    path = Path(ref).expanduser()
    if path.is_dir():
        return read_adapter(path)
    from expertune.llm.adapters import resolve_adapter
    from expertune.workspace import Workspace

    return resolve_adapter(Workspace.find(), ref)
