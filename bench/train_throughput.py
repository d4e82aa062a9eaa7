"""Training throughput on the builtin SmolLM2-135M: expertune's trainer vs TRL, in one run.

Same 64 mixed-length examples (50-400 tokens), LoRA r=16 on q_proj/v_proj, a fixed number of steps:
  (a) expertune's trainer with its defaults (device-aware precision, gradient checkpointing on a
      CPU, length-grouped batches); (a-) the same with checkpointing off
  (b) TRL SFTTrainer with its default SFTConfig apart from CPU and steps (bf16 + gradient checkpointing)
  (c) TRL SFTTrainer with bf16 on and gradient checkpointing off
  (d) TRL SFTTrainer with bf16 and gradient checkpointing off (fp32)
Prints trained tokens/s (non-padding tokens through forward and backward, timed after a warm-up
step) and the ratios, and (a) as a fraction of the machine's measured matmul peak in the precision
it trained in (bf16 where the CPU has it natively) x 4 x parameters (see `utilisation`).

Then peak memory: LoRA training at max_length 768, batch 4 (examples of 700-900 tokens, cut to
768), each trainer in a fresh child process, reporting its peak resident set (VmHWM).

    .venv/bin/python bench/train_throughput.py [--steps 5] [--memory-steps 3] [--skip-memory]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
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


def make_examples(tokenizer, n: int = 64, seed: int = 0, lengths: tuple[int, int] = (50, 400)) -> list[dict]:
    rnd = random.Random(seed)
    overhead = len(chat_ids(tokenizer, [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]))
    rows = []
    for i in range(n):
        target = rnd.randint(*lengths)
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


def run_expertune(model_path, examples, steps, out, *, batch_size: int = 8, max_length: int = 1024,
                  checkpointing: bool | str = "auto") -> float:
    recipe = Recipe(gradient_checkpointing=checkpointing, lora={"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]},
                    max_steps=steps + 1, per_device_batch_size=batch_size, max_length=max_length, eval_steps=1000,
                    save_steps=1000,
                    early_stopping_patience=None, logging_steps=1, warmup_ratio=0.0)
    clock = StepClock()
    trainer = build_trainer(recipe, plan_device(gradient_checkpointing=checkpointing), model_path, {"train": examples, "val": []}, out, callbacks=[clock])
    trainer.train()
    return clock.rate()


def run_trl(model_path, examples, steps, out, *, bf16: bool | None, checkpointing: bool | None,
            batch_size: int = 8, max_length: int = 1024) -> float:
    """TRL's SFTTrainer; None keeps SFTConfig's default for that setting."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    extra = {k: v for k, v in {"bf16": bf16, "activation_checkpointing": checkpointing}.items() if v is not None}
    args = SFTConfig(output_dir=str(out), use_cpu=True, max_steps=steps + 1, per_device_train_batch_size=batch_size,
                     max_length=max_length,
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


def matmul_peak_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


TRAINERS = {
    "a": ("expertune trainer", {}),
    "a-": ("expertune trainer, gradient checkpointing off", {"checkpointing": False}),
    "b": ("TRL default SFTConfig (bf16 + grad ckpt)", {"bf16": None, "checkpointing": None}),
    "c": ("TRL, bf16 on, grad ckpt off", {"bf16": True, "checkpointing": False}),
    "d": ("TRL, bf16 off, grad ckpt off (fp32)", {"bf16": False, "checkpointing": False}),
}


def train(key: str, model_path: str, examples: list[dict], steps: int, out: Path, **shape) -> float:
    if key.startswith("a"):
        return run_expertune(model_path, examples, steps, out, **TRAINERS[key][1], **shape)
    return run_trl(model_path, examples, steps, out, **TRAINERS[key][1], **shape)


def memory_child(key: str, steps: int) -> None:
    """One trainer at max_length 768, batch 4, in this (fresh) process; prints its JSON result."""
    quiet_model_libraries()
    resolved = resolve("builtin:smollm2-135m-instruct")
    from transformers import AutoTokenizer

    examples = make_examples(AutoTokenizer.from_pretrained(resolved.path), n=16, lengths=(700, 900))
    with tempfile.TemporaryDirectory() as tmp:
        rate = train(key, resolved.path, examples, steps, Path(tmp) / key, batch_size=4, max_length=768)
    print(json.dumps({"rate": rate, "peak_kb": peak_resident_kb()}))


def peak_resident_kb() -> int:
    """This process's high-water resident set. Not getrusage's ru_maxrss: Linux carries that over
    fork and exec, so a child would report its parent's peak at the fork."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux


def peak_memory(key: str, steps: int) -> tuple[float, float]:
    """(peak resident GB, tokens/s) of one trainer run in a fresh child process."""
    out = subprocess.run([sys.executable, __file__, "--memory-child", key, "--memory-steps", str(steps)],
                         check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["peak_kb"] / 2**20, result["rate"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5, help="timed steps per trainer (after one warm-up step)")
    ap.add_argument("--memory-steps", type=int, default=3, help="steps per trainer in the memory case")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--trainers", default=",".join(TRAINERS),
                    help="comma-separated keys of the trainers to run (default: all; ratios need a, b, c and d)")
    ap.add_argument("--memory-child", choices=sorted(TRAINERS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        return memory_child(args.memory_child, args.memory_steps)
    keys = [k for k in TRAINERS if k in args.trainers.split(",")]
    quiet_model_libraries()
    resolved = resolve("builtin:smollm2-135m-instruct")
    plan = plan_device()
    if not args.skip_speed:
        speed(resolved.path, plan, args.steps, keys)
    if not args.skip_memory:
        print(f"\npeak memory, LoRA at max_length 768, batch 4 ({args.memory_steps} steps + 1), each in a fresh process:")
        for key in keys:
            gb, rate = peak_memory(key, args.memory_steps)
            print(f"({key}) {TRAINERS[key][0]:<44} peak resident {gb:5.2f} GB  {rate:7.1f} tokens/s")
        print("target: (a) <= 2 GB")


def speed(model_path: str, plan, steps: int, keys: list[str]) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path)
    examples = make_examples(tok)
    lengths = [len(chat_ids(tok, e["prompt"] + e["completion"])) for e in examples]
    print(f"64 examples, {min(lengths)}-{max(lengths)} tokens (mean {sum(lengths) / len(lengths):.0f}); "
          f"device plan: {plan.reason}; checkpointing {'on' if plan.gradient_checkpointing else 'off'}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key in keys:
            results[key] = train(key, model_path, examples, steps, Path(tmp) / key)
            print(f"({key}) {TRAINERS[key][0]:<44} {results[key]:8.1f} trained tokens/s", flush=True)
    for other, target in (("a-", "checkpointing's cost"), ("b", "target >= 2: TRL's defaults"),
                          ("c", "target >= 1.5: TRL with bf16 on, checkpointing off"), ("d", "TRL in fp32")):
        if "a" in results and other in results:
            print(f"ratio (a)/({other}) = {results['a'] / results[other]:.2f}   ({target})")
    if "a" in results:
        utilisation(results["a"], plan)


def utilisation(rate: float, plan) -> None:
    """Forward + backward of a LoRA model: ~2 FLOPs per parameter per token forward and ~2 for the
    activations' gradients (the frozen weights' gradients are not computed), so ~4 x parameters
    per trained token; the peak is a large matmul in the precision the trainer computes in."""
    params = 134_515_008
    dtype = torch.bfloat16 if plan.precision == "bf16" else torch.float32
    peak = matmul_peak_gflops(dtype)
    achieved = rate * 4 * params / 1e9
    print(f"{str(dtype).removeprefix('torch.')} matmul peak {peak:.0f} GFLOP/s (2048x2048, {torch.get_num_threads()} threads); "
          f"(a) sustains {achieved:.0f} GFLOP/s = {achieved / peak:.1%} of it (tokens/s x 4 x {params / 1e6:.0f}M parameters)")


if __name__ == "__main__":
    main()
