"""Confidence scoring throughput: expertune's `completion_logprobs` vs a plain Hugging Face forward loop.

Scores the bundled 92 contract-law answers (examples/contracts.jsonl, each given its conversation)
with the builtin model, forward only, three ways in one run on the same model object and threads:

  - expertune: `llm.scoring.completion_logprobs` (length-sorted batches, head and log-softmax on the
    answer positions only, inference mode, bf16 autocast where the CPU has native bf16);
  - HF one at a time: `model(ids).logits`, fp32, log-softmax over the whole sequence, no_grad;
  - HF naive batches: the same in input order, right-padded batches of --batch-size.

Prints, for each, tokens/s counted two ways — every token through the forward pass (prompt and
answer; "forward tok/s") and answer tokens only ("scored tok/s") — and the ratios to the HF loops.
Also checks the three agree (max difference of the mean log-probability per answer).
Target on a 2-core CPU: >= 2,000 tokens/s.

    .venv/bin/python bench/confidence_scoring.py [--batch-size 8] [--repeat 1] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import expertune.llm  # noqa: E402,F401 -- sets how OpenMP threads wait, before torch loads (as the entry points do)

ROOT = Path(__file__).resolve().parents[1]
MODEL = "builtin:smollm2-135m-instruct"


def examples() -> list[tuple[list[dict[str, str]], str]]:
    out = []
    for line in (ROOT / "examples" / "contracts.jsonl").read_text(encoding="utf-8").splitlines():
        messages = json.loads(line)["messages"]
        out.append((messages[:-1], messages[-1]["content"]))
    return out


def hf_scores(model, rendered, pad: int, batch_size: int) -> list[float]:
    """The plain loop: full logits, log-softmax over every position, batches in input order."""
    import torch

    means = []
    with torch.no_grad():
        for b in range(0, len(rendered), batch_size):
            batch = rendered[b : b + batch_size]
            width = max(len(r.input_ids) for r in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, r in enumerate(batch):
                ids[row, : len(r.input_ids)] = torch.tensor(r.input_ids)
                mask[row, : len(r.input_ids)] = 1
            logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
            for row, r in enumerate(batch):
                targets = torch.tensor(r.input_ids[r.prompt_length :])
                picked = logp[row, r.prompt_length - 1 : len(r.input_ids) - 1].gather(1, targets[:, None])
                means.append(float(picked.double().mean()))
    return means


def timed(fn, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=8, help="batch size of ours and of the naive HF batches")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the fastest is reported")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N answers (a quick run)")
    args = parser.parse_args()

    import torch

    from expertune.llm.local import configure_threads
    from expertune.llm.render import render
    from expertune.llm.scoring import completion_logprobs
    from expertune.models import load_model, load_tokenizer
    from expertune.train.device import cpu_has_native_bf16

    threads = configure_threads()
    model, tok = load_model(MODEL), load_tokenizer(MODEL)
    model.eval()
    data = examples()[: args.limit]
    rendered = [render([*m, {"role": "assistant", "content": c}], tok) for m, c in data]
    forward_tokens = sum(len(r.input_ids) for r in rendered)
    scored_tokens = sum(len(r.input_ids) - r.prompt_length for r in rendered)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    print(f"model {MODEL} · {len(data)} answers · {forward_tokens} tokens forward, {scored_tokens} scored (answers) · "
          f"torch {torch.__version__}, {threads} threads, native bf16: {cpu_has_native_bf16()}", flush=True)

    completion_logprobs(model, tok, data[:4], batch_size=4)  # warm-up (first-call allocations), not timed

    def report(name: str, fn) -> tuple[float, list[float]]:
        seconds, means = timed(fn, args.repeat)
        ours_seconds, ours_means = runs.get("expertune", (seconds, means))
        diff = max(abs(a - b) for a, b in zip(means, ours_means))
        print(f"{name:32s} {seconds:6.2f} s  forward {forward_tokens / seconds:7.0f} tok/s  "
              f"scored {scored_tokens / seconds:7.0f} tok/s  ours is {seconds / ours_seconds:4.2f}x faster  "
              f"max |Δ mean logprob| vs ours {diff:.1e}", flush=True)
        return seconds, means

    runs: dict[str, tuple[float, list[float]]] = {}
    runs["expertune"] = report("expertune", lambda: [s["mean_logprob"] for s in completion_logprobs(
        model, tok, data, batch_size=args.batch_size)])
    report("HF one at a time (fp32)", lambda: hf_scores(model, rendered, pad, 1))
    report(f"HF naive batches of {args.batch_size} (fp32)", lambda: hf_scores(model, rendered, pad, args.batch_size))
    ours = runs["expertune"][0]
    rate = forward_tokens / ours
    print(f"expertune: {rate:.0f} forward tok/s, {scored_tokens / ours:.0f} scored tok/s (target >= 2,000 tok/s forward-only)")


if __name__ == "__main__":
    main()
