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
from expertune.llm.decoding import PREFILL_TOKEN_COST, last_position, left_pad, partition
from expertune.llm.render import AS_DATA, Rendered, SystemPolicy, render

DEFAULT_BATCH_SIZE = 32
# Upper bound on padded tokens per batch (prompt + new tokens), so long prompts get smaller batches.
DEFAULT_TOKEN_BUDGET = 32 * 1536


def default_threads() -> int:
    """The cores this process may use that other processes are not keeping busy right now.

    torch's default counts every core; on a shared CPU, threads that compete with another busy
    process for the same cores make generation slower than fewer threads (measured on 2 cores
    with a neighbour busy: 26-row decode step 165 ms with 2 threads, 137 ms with 1; on the idle
    machine 2 threads are 1.4x faster). Busy = the CPU time others used in a 0.2 s sample of
    /proc/stat, excluding this process; elsewhere the 1-minute load average.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    busy = _busy_elsewhere()
    if busy is None:
        try:
            busy = os.getloadavg()[0]
        except (AttributeError, OSError):
            busy = 0.0
    return max(1, min(cores, int(cores - busy + 0.5)))


def _busy_elsewhere(window: float = 0.2) -> float | None:
    """Cores kept busy by other processes over `window` seconds (Linux), or None."""
    def sample() -> tuple[int, int, int]:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(ticks), ticks[3] + ticks[4], int(fields[11]) + int(fields[12])  # total, idle+iowait, ours

    try:
        total0, idle0, ours0 = sample()
        time.sleep(window)
        total1, idle1, ours1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    elapsed = total1 - total0
    if elapsed <= 0:
        return None
    machine_cores = os.cpu_count() or 1
    return max(0.0, (elapsed - (idle1 - idle0) - (ours1 - ours0)) / elapsed * machine_cores)


def configure_threads() -> int:
    """Set torch's thread count once per process: EXPERTUNE_THREADS, else default_threads()."""
    import torch

    global _THREADS
    if _THREADS is None:
        wanted = os.environ.get("EXPERTUNE_THREADS")
        _THREADS = max(1, int(wanted)) if wanted and wanted.isdigit() else default_threads()
        torch.set_num_threads(_THREADS)
    return _THREADS


_THREADS: int | None = None


def base_identity(base: str) -> tuple[Any, str]:
    """The resolved base model and its cache identity (sha256 of the source weights)."""
    from expertune.hashing import file_sha256
    from expertune.models.resolve import resolve, weights_hash_memo

    resolved = resolve(base)
    if resolved.sha256:
        return resolved, resolved.sha256
    folder = Path(resolved.path)
    shards = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    if not shards:  # a hub id: the name (and whatever revision the hub serves) is all we know
        return resolved, "hub:" + resolved.path
    h = hashlib.sha256()
    for shard in shards:
        h.update(f"{shard.name}:{file_sha256(shard, memo=weights_hash_memo())}\n".encode())
    return resolved, h.hexdigest()


def adapter_policy(adapter: AdapterInfo | None) -> SystemPolicy:
    """The system-prompt policy an adapter was trained with (as-data for a base model)."""
    if adapter is None or adapter.system_prompt_policy is None:
        return AS_DATA
    return SystemPolicy.from_dict(adapter.system_prompt_policy.model_dump())


PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(precision: str) -> str:
    """The precision a local model runs in: "auto" is bf16 where the CPU computes bf16 natively
    (AVX512-BF16, AMX, Arm bf16) and fp32 elsewhere, where bf16 matmuls are emulated and several
    times slower than fp32 (measured on an AVX2-only EPYC: 3-8x). Local models run on the CPU."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        from expertune.llm.scoring import native_bf16

        return "bf16" if native_bf16("cpu") else "fp32"
    return precision


def model_id_for(base_sha: str, adapter: AdapterInfo | None, precision: str = "fp32") -> str:
    # The policy changes what the model is shown, so it is part of the identity that caches key
    # on; as-data adds nothing, so those identities are what they always were. Likewise bf16
    # weights give other answers than fp32 ones: a bf16 model is another identity, fp32 adds nothing.
    tag = adapter_policy(adapter).tag if adapter is not None else None
    suffix = (f"+{tag}" if tag else "") + ("" if precision == "fp32" else f"+{precision}")
    if adapter is None:
        return f"local:{base_sha}{suffix}"
    if adapter.kind == "full":
        return f"local-full:{adapter.sha256}{suffix}"
    return f"local:{base_sha}+lora:{adapter.sha256}{suffix}"


class LocalChatModel:
    """A base model (any name expertune.models.resolve accepts), optionally with an adapter.

    `adapter` is an adapter folder; a registry reference (`name@3`) is resolved by the caller with
    store.adapters.resolve_adapter and passed as `adapter_info`. The tokenizer, and so the chat template,
    comes from the adapter folder, and the adapter's recorded system-prompt policy is applied to
    every conversation it renders (generation, next-token and completion scoring): evaluation and
    serving render conversations exactly as training did, whatever the caller passes.
    LoRA weights are merged into the base for inference (same outputs, no per-layer overhead).

    `precision` is "auto" (bf16 where the CPU computes it natively, else fp32; resolve_precision),
    "fp32" or "bf16"; `self.precision` is the one it runs in, and part of its `id`. Generation and
    scoring both run in it.
    """

    def __init__(self, base: str, adapter: str | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 token_budget: int = DEFAULT_TOKEN_BUDGET, adapter_info: AdapterInfo | None = None,
                 precision: str = "auto", packed: bool = True):
        self.base = base
        self.packed = packed  # fp32 linear weights packed for the CPU at load (llm/packed.py)
        self.precision = resolve_precision(precision)
        self.adapter = adapter_info or (read_adapter(adapter) if adapter else None)
        self.policy = adapter_policy(self.adapter)
        self.batch_size = batch_size
        self.token_budget = token_budget
        self.resolved, self.base_sha256 = base_identity(base)
        self.id = model_id_for(self.base_sha256, self.adapter, self.precision)
        self._model = None
        self._tokenizer = None
        self._mergeable = True  # see llm/decoding.py; turned off for models whose cache cannot be merged

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
        if self.precision == "bf16":
            import torch

            # Loaded and merged in fp32, cast last: the LoRA merge is as exact as in fp32 and the
            # weights are rounded once.
            model = model.to(torch.bfloat16)
        model.eval()
        # Frozen weights instead of a process-wide torch.set_grad_enabled(False), which would
        # silently break any training later in the same process.
        model.requires_grad_(False)
        if self.packed and self.precision == "fp32":
            from expertune.llm.packed import pack_linears

            pack_linears(model)  # weights packed once for the CPU's matrix products (llm/packed.py)
        return model

    def close(self) -> None:
        """Drop the weights (the harness loads one candidate at a time)."""
        self._model = None

    # -- rendering ----------------------------------------------------------------------------
    def render(self, conversation: Conversation, prefix: str = "") -> Rendered:
        """The conversation through the one renderer with this model's template and policy: a
        prompt ends with the assistant generation prompt (+ `prefix`); a conversation ending
        with an assistant turn gets that turn marked as the completion."""
        return render(conversation, self.tokenizer, self.policy, prefix=prefix)

    def _prompts(self, conversations: Sequence[Conversation], prefix: str = "") -> list[list[int]]:
        return [self.render(c, prefix).input_ids for c in conversations]

    def _prefill_groups(self, lengths: list[int]) -> list[list[int]]:
        """Prompts grouped for forward passes: similar lengths share one, a long prompt gets its
        own instead of padding thirty short ones to its length."""
        return self._partition(lengths, 0)

    def _partition(self, lengths: list[int], new_tokens: int, padding_cost: float = PREFILL_TOKEN_COST) -> list[list[int]]:
        return partition(lengths, new_tokens, max_rows=self.batch_size, token_budget=self.token_budget,
                         padding_cost=padding_cost)

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
        (benchmarks use it to force equal lengths).

        Only the expected per-item failures come back as failed answers (finish reason "error"):
        a prompt that leaves no room for max_new_tokens in the model's context, and a batch that
        runs out of memory. Anything else is a bug and raises."""
        import torch

        if not conversations:
            return []
        seeds = list(seeds) if seeds is not None else [params.seed] * len(conversations)
        prompts = self._prompts(conversations)
        out: list[Generation | None] = [None] * len(conversations)
        limit = self.context_length()
        fits = []
        for i, p in enumerate(prompts):
            if limit is not None and len(p) + params.max_new_tokens > limit:
                out[i] = Generation("", "error", len(p), 0, error=(
                    f"too long: the prompt has {len(p)} tokens and max_new_tokens is {params.max_new_tokens}, "
                    f"over the model's context of {limit} tokens"))
            else:
                fits.append(i)
        done = len(prompts) - len(fits)
        for group in self._decode_batches([len(prompts[i]) for i in fits], params.max_new_tokens):
            batch = [fits[k] for k in group]
            started = time.perf_counter()
            try:
                with torch.inference_mode():
                    rows = self._generate_batch([prompts[i] for i in batch], params, [seeds[i] for i in batch], min_new_tokens)
            except RuntimeError as err:  # out of memory: those rows fail, the others go on
                if not is_out_of_memory(err):
                    raise
                rows = [Generation("", "error", len(prompts[i]), 0, error=f"out of memory: {err}") for i in batch]
            seconds = (time.perf_counter() - started) / len(batch)
            for i, gen in zip(batch, rows):
                gen.extra["seconds"] = seconds
                out[i] = gen
            done += len(batch)
            if progress:
                progress(done, len(conversations))
        return out  # type: ignore[return-value]

    def context_length(self) -> int | None:
        """Positions the model was trained for (None when its config does not say)."""
        config = self.model.config
        config = config.get_text_config() if hasattr(config, "get_text_config") else config
        return getattr(config, "max_position_embeddings", None)

    def _decode_batches(self, lengths: list[int], new_tokens: int) -> list[list[int]]:
        """Rows decoded together: as many as batch_size and the token budget allow (the cache
        holds rows x (longest prompt + new tokens)), since every step reads all the weights once
        whatever the rows, and each row attends over its own columns only (llm/attention.py).
        A model without that attention is cut by the same kind of dynamic program as
        _prefill_groups, the padding of short prompts to long ones in the cost, since there
        every short row would attend over the long ones' width at every step."""
        from expertune.llm.attention import use_row_slices

        padding_cost = 0.0 if self._mergeable and use_row_slices(self.model) else PREFILL_TOKEN_COST
        return self._partition(lengths, new_tokens, padding_cost)

    def _generate_batch(self, rows: list[list[int]], params: GenParams, seeds: list[int], min_new_tokens: int) -> list[Generation]:
        from expertune.llm.decoding import SeededSampler, decode

        eos = self.eos_ids()
        tokens = None
        if self._mergeable:
            sampler = SeededSampler(seeds, params.temperature, params.top_p) if params.temperature > 0 else None
            tokens = decode(self.model, rows, self._prefill_groups([len(r) for r in rows]), pad_id=self.tokenizer.pad_token_id,
                            eos_ids=eos, max_new_tokens=params.max_new_tokens, min_new_tokens=min_new_tokens, sampler=sampler)
            self._mergeable = tokens is not None
        if tokens is None:  # a cache that cannot be merged (e.g. sliding-window layers): plain generate
            tokens = self._generate_hf(rows, params, seeds, min_new_tokens)
        out = []
        for prompt, new in zip(rows, tokens):
            stop = next((k for k, t in enumerate(new) if t in eos), None)
            kept = new if stop is None else new[:stop]
            out.append(Generation(text=self.tokenizer.decode(kept, skip_special_tokens=True),
                                  finish_reason="length" if stop is None else "stop",
                                  prompt_tokens=len(prompt), completion_tokens=len(kept) + (stop is not None)))
        return out

    def _generate_hf(self, rows: list[list[int]], params: GenParams, seeds: list[int], min_new_tokens: int) -> list[list[int]]:
        from transformers import GenerationConfig, LogitsProcessorList

        from expertune.llm.decoding import SeededSampler

        ids, mask = left_pad(rows, self.tokenizer.pad_token_id)
        config = GenerationConfig(
            do_sample=False,  # sampling, when asked for, is done by SeededSampler
            max_new_tokens=params.max_new_tokens, min_new_tokens=min_new_tokens or None,
            eos_token_id=sorted(self.eos_ids()), pad_token_id=self.tokenizer.pad_token_id, use_cache=True,
        )
        processors = LogitsProcessorList()
        if params.temperature > 0:
            processors.append(SeededSampler(seeds, params.temperature, params.top_p))
        result = self.model.generate(input_ids=ids, attention_mask=mask, generation_config=config, logits_processor=processors)
        return result[:, ids.shape[1]:].tolist()

    # -- scoring ------------------------------------------------------------------------------
    def next_token_logprobs(self, conversations: list[Conversation], candidates: list[str], *,
                            prefix: str = "") -> list[dict[str, float]]:
        """Log-probabilities of each candidate's first token at the position right after the
        generation prompt (plus `prefix`, text the assistant turn starts with). Candidates must
        start with distinct tokens, e.g. "A"/"B" or "1".."5"."""
        import torch

        token_ids = self.candidate_token_ids(candidates)
        prompts = self._prompts(conversations, prefix)
        out: list[dict[str, float] | None] = [None] * len(conversations)
        with torch.inference_mode():
            for batch in self._prefill_groups([len(p) for p in prompts]):
                ids, mask = left_pad([prompts[i] for i in batch], self.tokenizer.pad_token_id)
                # Left padding shifts positions unless they are given: count from each row's first token.
                positions = (mask.cumsum(-1) - 1).clamp(min=0)
                logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                    logits_to_keep=last_position(ids.shape[1])).logits[:, -1, :]
                logprobs = torch.log_softmax(logits.float(), dim=-1)
                for j, i in enumerate(batch):
                    out[i] = {c: float(logprobs[j, t]) for c, t in zip(candidates, token_ids)}
        return out  # type: ignore[return-value]

    def completion_logprobs(self, examples: list[tuple[Conversation, str]], batch_size: int = 8,
                            progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
        """Log-probabilities of (prompt messages, completion) pairs as training computes its loss
        (llm/scoring.py), rendered with this model's template and policy."""
        from expertune.llm.scoring import completion_logprobs

        return completion_logprobs(self.model, self.tokenizer, examples, batch_size, progress, policy=self.policy,
                                   precision=self.precision)

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


def is_out_of_memory(err: BaseException) -> bool:
    """torch's out-of-memory errors: CUDA's own type, and the CPU allocator's RuntimeError."""
    import torch

    oom = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
    return isinstance(err, oom) or "can't allocate memory" in str(err) or "out of memory" in str(err).lower()
