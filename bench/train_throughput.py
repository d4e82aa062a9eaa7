"""Training throughput on the builtin SmolLM2-135M: expertune's trainer vs TRL, in one run.

Same 64 mixed-length examples (50-400 tokens), LoRA r=16 on q_proj/v_proj, a fixed number of steps:
  (a) expertune's trainer (device-aware precision, no checkpointing, length-grouped batches)
  (b) TRL SFTTrainer with its default SFTConfig apart from CPU and steps (bf16 + gradient checkpointing)
  (c) TRL SFTTrainer with bf16 and gradient checkpointing off
Prints trained tokens/s (non-padding tokens through forward and backward, timed after a warm-up
step) and the ratios, and (a) as a fraction of the machine's fp32 matmul peak x 4 x parameters.

    .venv/bin/python bench/train_throughput.py [--steps 5]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import torch
from transformers import TrainerCallback

from expertune.models import resolve
from expertune.train.device import plan_device
from expertune.train.recipe import Recipe
from expertune.quiet import quiet_model_libraries
from expertune.train.sft import build_trainer

WORDS = ("contract offer acceptance consideration party breach damages term clause remedy court promise "
         "estoppel misrepresentation frustration performance condition warranty the a of to and in is that").split()


def chat_ids(tokenizer, messages) -> list[int]:
    return tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]


def make_examples(tokenizer, n: int = 64, seed: int = 0) -> list[dict]:
    rnd = random.Random(seed)
    overhead = len(chat_ids(tokenizer, [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]))
    rows = []
    for i in range(n):
        target = rnd.randint(50, 400)
        question = f"Question {i}: " + " ".join(rnd.choices(WORDS, k=12)) + "?"
        budget = target - overhead - len(tokenizer(question)["input_ids"])
        words: list[str] = []
        while len(tokenizer(" ".join(words) + ".")["input_ids"]) < budget:
            words += rnd.choices(WORDS, k=4)
        rows.append({"prompt": [{"role": "user", "content": question}],
                     "completion": [{"role": "assistant", "content": " ".join(words) + "."}],
                     "group_id": f"g{i}", "response_id": i})
    return rows


class StepClock(TrainerCallback):
    """Tokens and seconds between the end of the first (warm-up) step and the end of the last."""

    def __init__(self):
        self.marks: list[tuple[float, float]] = []
        self.tokens = 0.0

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "num_tokens" in logs:
            self.tokens = logs["num_tokens"]

    def on_step_end(self, args, state, control, **kwargs):
        self.marks.append((time.perf_counter(), self.tokens))

    def rate(self) -> float:
        (t0, n0), (t1, n1) = self.marks[0], self.marks[-1]
        return (n1 - n0) / (t1 - t0)


def run_expertune(model_path, examples, steps, out) -> float:
    recipe = Recipe(lora={"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]},
                    max_steps=steps + 1, per_device_batch_size=8, max_length=1024, eval_steps=1000,
                    save_steps=1000,
                    early_stopping_patience=None, logging_steps=1, warmup_ratio=0.0)
    clock = StepClock()
    trainer = build_trainer(recipe, plan_device(), model_path, {"train": examples, "val": []}, out, callbacks=[clock])
    trainer.train()
    return clock.rate()


def run_trl(model_path, examples, steps, out, *, defaults: bool) -> float:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    extra = {} if defaults else {"bf16": False, "activation_checkpointing": False}
    args = SFTConfig(output_dir=str(out), use_cpu=True, max_steps=steps + 1, per_device_train_batch_size=8,
                     logging_steps=1, report_to="none", save_strategy="no", disable_tqdm=True, **extra)
    clock = StepClock()
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(model_path), args=args,
        train_dataset=Dataset.from_list([{"prompt": e["prompt"], "completion": e["completion"]} for e in examples]),
        processing_class=AutoTokenizer.from_pretrained(model_path),
        peft_config=LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
        callbacks=[clock],
    )
    trainer.train()
    return clock.rate()


def matmul_peak_gflops(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5, help="timed steps per trainer (after one warm-up step)")
    args = ap.parse_args()
    quiet_model_libraries()
    resolved = resolve("builtin:smollm2-135m-instruct")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolved.path)
    examples = make_examples(tok)
    lengths = [len(chat_ids(tok, e["prompt"] + e["completion"])) for e in examples]
    print(f"64 examples, {min(lengths)}-{max(lengths)} tokens (mean {sum(lengths) / len(lengths):.0f}); "
          f"device plan: {plan_device().reason}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["a"] = run_expertune(resolved.path, examples, args.steps, Path(tmp) / "a")
        results["b"] = run_trl(resolved.path, examples, args.steps, Path(tmp) / "b", defaults=True)
        results["c"] = run_trl(resolved.path, examples, args.steps, Path(tmp) / "c", defaults=False)
    peak = matmul_peak_gflops()
    params = 134_515_008
    labels = {"a": "expertune trainer", "b": "TRL default SFTConfig (bf16 + grad ckpt)", "c": "TRL, bf16 and grad ckpt off"}
    for key, rate in results.items():
        print(f"({key}) {labels[key]:<44} {rate:8.1f} trained tokens/s")
    print(f"ratio (a)/(c) = {results['a'] / results['c']:.2f}   (target >= 1.5)")
    print(f"ratio (a)/(b) = {results['a'] / results['b']:.2f}   (target >= 15 on a CPU that emulates bf16)")
    achieved = results["a"] * 4 * params / 1e9
    print(f"fp32 matmul peak {peak:.0f} GFLOP/s; (a) sustains {achieved:.0f} GFLOP/s = {achieved / peak:.1%} of peak "
          f"(tokens/s x 4 x {params / 1e6:.0f}M parameters)")


if __name__ == "__main__":
    main()
