"""Generation throughput: expertune's harness vs Hugging Face `generate` one prompt at a time.

Both generate greedily with EOS suppressed until exactly --tokens new tokens (min_new_tokens), so
they produce the same number of tokens; both use the same weights in the same precision
(--precision auto is what evaluation runs in, bf16 where the CPU computes it natively, else fp32),
threads and prompts (the bundled contract-law and out-of-domain prompts, rendered with the chat
template). `generate` runs on the model as transformers loads it (expertune's harness packs its
fp32 linear weights and switches its attention, llm/packed.py and llm/attention.py, which would
speed up the reference too). Both run with the OpenMP settings expertune.llm makes before torch
loads (threads spin briefly between parallel regions; set GOMP_SPINCOUNT or OMP_WAIT_POLICY to
compare others). Prints tokens/s for each, the precision each ran in, and the speed-up.

    .venv/bin/python bench/generation_throughput.py            # 32 prompts x 128 new tokens
    .venv/bin/python bench/generation_throughput.py --prompts 8 --tokens 32
    .venv/bin/python bench/generation_throughput.py --precision fp32
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import expertune.llm  # noqa: E402,F401 -- sets how OpenMP threads wait, before torch loads (as the entry points do)

ROOT = Path(__file__).resolve().parents[1]
MODEL = "builtin:smollm2-135m-instruct"


def prompts(n: int) -> list[list[dict[str, str]]]:
    seen, out = set(), []
    for line in (ROOT / "examples" / "contracts.jsonl").read_text(encoding="utf-8").splitlines():
        messages = json.loads(line)["messages"][:-1]  # the conversation up to the answer
        key = json.dumps(messages)
        if key not in seen:
            seen.add(key)
            out.append(messages)
    for line in (ROOT / "examples" / "out_of_domain.jsonl").read_text(encoding="utf-8").splitlines():
        out.append([{"role": "user", "content": json.loads(line)["prompt"]}])
    if n > len(out):
        sys.exit(f"only {len(out)} bundled prompts; use --prompts {len(out)} or fewer")
    return out[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto")
    args = parser.parse_args()

    import torch

    from expertune.llm.base import GenParams
    from expertune.llm.local import LocalChatModel, configure_threads
    from expertune.models import load_model

    threads = configure_threads()
    convs = prompts(args.prompts)
    harness = LocalChatModel(MODEL, batch_size=args.batch_size, precision=args.precision)
    tok = harness.tokenizer
    harness.model  # noqa: B018 -- loaded before timing
    model = load_model(harness.resolved)  # the reference: as transformers loads it, in the harness's precision
    model = model.to(torch.bfloat16) if harness.precision == "bf16" else model
    model.eval()
    precision = f"{harness.precision} (weights {str(next(model.parameters()).dtype).removeprefix('torch.')})"
    prompt_ids = [harness.render(c).input_ids for c in convs]  # the one renderer, as generation uses
    prompt_tokens = [len(ids) for ids in prompt_ids]
    print(f"model {MODEL} · {len(convs)} prompts ({min(prompt_tokens)}-{max(prompt_tokens)} prompt tokens) · "
          f"{args.tokens} new tokens each · greedy · torch {torch.__version__}, {threads} threads · "
          f"precision {precision}, asked {args.precision}", flush=True)

    # warm-up (first-call allocations), not timed
    harness.generate(convs[:2], GenParams(temperature=0, max_new_tokens=4), min_new_tokens=4)

    started = time.perf_counter()
    gens = harness.generate(convs, GenParams(temperature=0, max_new_tokens=args.tokens), min_new_tokens=args.tokens)
    harness_seconds = time.perf_counter() - started
    harness_tokens = sum(g.completion_tokens for g in gens)
    assert all(g.completion_tokens == args.tokens for g in gens), "every answer must have exactly --tokens tokens"
    harness_rate = harness_tokens / harness_seconds
    print(f"expertune harness ({precision}, batch {args.batch_size}, left padding, KV cache): {harness_tokens} tokens in "
          f"{harness_seconds:.1f} s = {harness_rate:.1f} tokens/s", flush=True)

    started = time.perf_counter()
    hf_tokens = 0
    for ids in prompt_ids:
        ids = {"input_ids": torch.tensor([ids]), "attention_mask": torch.ones(1, len(ids), dtype=torch.long)}
        out = model.generate(**ids, max_new_tokens=args.tokens, min_new_tokens=args.tokens, do_sample=False,
                             pad_token_id=tok.pad_token_id)
        hf_tokens += out.shape[1] - ids["input_ids"].shape[1]
    hf_seconds = time.perf_counter() - started
    hf_rate = hf_tokens / hf_seconds
    print(f"Hugging Face generate ({precision}), one prompt at a time: {hf_tokens} tokens in {hf_seconds:.1f} s = "
          f"{hf_rate:.1f} tokens/s")
    print(f"speed-up: {harness_rate / hf_rate:.1f}x (target >= 10x)")


if __name__ == "__main__":
    main()
