"""Label scoring by log-probability: each shared prompt once (KV cache) vs every (prompt, label) whole.

The `eval classify --scoring logprob` case: 100 texts x 7 labels, every label scored as the whole
assistant answer (llm/scoring.py `completion_logprobs`). Two ways, in one run on the same model
object and threads:

  - whole sequences (`share_prefixes=False`, the path before prefix sharing): each of the 700
    (prompt, label) pairs runs through the model as its own sequence;
  - shared prompts (the default): each of the 100 prompts runs once, and the 7 labels' tokens run
    from its key/value cache.

Texts are the bundled contract-law answers (examples/contracts.jsonl) cut to 60-150 words, under a
classification instruction; labels are 1-3 tokens, two of them sharing a first token ("offer",
"offer and acceptance"). Prints seconds, the ratio, and the largest difference of any label's
summed log-probability between the two. Target: >= 5x.

    .venv/bin/python bench/label_scoring.py [--texts 100] [--batch-size 8] [--precision auto] [--slices 5]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import expertune.llm  # noqa: E402,F401 -- sets how OpenMP threads wait, before torch loads (as the entry points do)

ROOT = Path(__file__).resolve().parents[1]
MODEL = "builtin:smollm2-135m-instruct"
LABELS = ["formation", "terms", "breach", "misrepresentation", "frustration", "offer", "offer and acceptance"]


def conversations(n: int) -> list[list[dict[str, str]]]:
    answers = [json.loads(line)["messages"][-1]["content"]
               for line in (ROOT / "examples" / "contracts.jsonl").read_text(encoding="utf-8").splitlines()]
    out = []
    for i in range(n):
        words = answers[i % len(answers)].split()
        text = " ".join(words[: 60 + (i * 37) % 91])  # 60-150 words, varied
        out.append([
            {"role": "system", "content": "You are a careful contract-law annotator."},
            {"role": "user", "content": "Which area of contract law is the following text mainly about? Answer with "
                                        f"exactly one of: {', '.join(LABELS)}.\n\nText: {text}"},
        ])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=8, help="as LocalChatModel.completion_logprobs passes")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--slices", type=int, default=5, help="the texts are timed in this many alternating slices")
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
    convs = conversations(args.texts)
    examples = [(conv, label) for conv in convs for label in LABELS]
    rendered = [render([*c, {"role": "assistant", "content": lab}], tok) for c, lab in examples]
    prompt_tokens = [r.prompt_length for r in rendered[:: len(LABELS)]]
    label_tokens = {lab: len(r.input_ids) - r.prompt_length for lab, r in zip(LABELS, rendered)}
    print(f"model {MODEL} · {len(convs)} texts x {len(LABELS)} labels · prompts {min(prompt_tokens)}-"
          f"{max(prompt_tokens)} tokens (mean {sum(prompt_tokens) / len(prompt_tokens):.0f}) · completion tokens "
          f"per label (end of turn included) {label_tokens} · torch {torch.__version__}, {threads} threads, "
          f"native bf16: {cpu_has_native_bf16()}, precision {args.precision}, batch size {args.batch_size}", flush=True)

    for share in (False, True):  # warm-up (first-call allocations), not timed
        completion_logprobs(model, tok, examples[: 2 * len(LABELS)], batch_size=4, share_prefixes=share)

    # The two ways alternate over slices of the texts, so a change in the load of a shared machine
    # falls on both rather than on whichever ran second.
    seconds = {False: 0.0, True: 0.0}
    scores: dict[bool, list[float]] = {False: [], True: []}
    per = -(-len(convs) // args.slices) * len(LABELS)
    for start in range(0, len(examples), per):
        part = examples[start : start + per]
        for share in (False, True):
            began = time.perf_counter()
            result = completion_logprobs(model, tok, part, args.batch_size, precision=args.precision,
                                         share_prefixes=share)
            seconds[share] += time.perf_counter() - began
            scores[share] += [s["sum_logprob"] for s in result]
        print(f"  {start // len(LABELS) + len(part) // len(LABELS):4d} texts: whole {seconds[False]:7.2f} s, "
              f"shared {seconds[True]:7.2f} s", flush=True)
    print(f"whole sequences (share_prefixes=False) {seconds[False]:7.2f} s")
    print(f"shared prompts  (default)              {seconds[True]:7.2f} s")
    diff = max(abs(a - b) for a, b in zip(scores[False], scores[True]))
    print(f"ratio {seconds[False] / seconds[True]:.2f}x faster (target >= 5x) · max |Δ sum logprob| {diff:.1e}")


if __name__ == "__main__":
    main()
