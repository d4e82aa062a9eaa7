"""A model card written next to every registered adapter (README.md, Hugging Face style)."""

from __future__ import annotations

from pathlib import Path

import yaml

from expertune.models.builtin import portable_id
from expertune.records import AdapterRow, TrainingRun


def write_model_card(adapter_dir: Path, run: TrainingRun, adapter: AdapterRow) -> Path:
    recipe, base, device = run.recipe, run.base_model, run.device
    front = {
        "library_name": "peft" if recipe.method != "full" else "transformers",
        "base_model": portable_id(base.name),
        "tags": ["expertune", recipe.method, "sft"],
    }
    losses = [(h["step"], h["loss"]) for h in run.log_history if "loss" in h]
    evals = [(h["step"], h["eval_loss"]) for h in run.log_history if "eval_loss" in h]
    lines = [
        "---", yaml.safe_dump(front, sort_keys=False).strip(), "---", "",
        f"# {adapter.name} v{adapter.version}", "",
        f"A {recipe.method} adapter trained by expertune on a curated expert dataset.", "",
        "## Lineage", "",
        f"- base model: `{base.name}` (sha256 `{(base.sha256 or 'n/a')[:16]}`)",
        f"- dataset version: `{run.dataset_version.hash[:12]}` ({run.dataset_version.name or 'unnamed'})",
        f"- recipe: `{recipe.name}`; run: `{run.id}`",
        f"- chat template: {base.chat_template_source} (saved as chat_template.jinja; evaluation and serving use it)",
        f"- system prompt policy: {recipe.system_prompt}", "",
        "## Training", "",
        f"- method {recipe.method}, LoRA r={recipe.lora.r} alpha={recipe.lora.alpha} "
        f"on {recipe.lora.target_modules}" if recipe.method != "full" else "- method full",
        f"- learning rate {recipe.learning_rate} ({recipe.lr_scheduler}), max length {recipe.max_length}, "
        f"batch {recipe.per_device_batch_size}×{recipe.gradient_accumulation} per device",
        f"- device: {device.device} ({device.precision}; {device.reason})",
        f"- steps: {run.steps}; shipped checkpoint: step {run.best_step} "
        f"(best validation loss {run.best_eval_loss})",
        f"- trained tokens: {run.trained_tokens}; {run.tokens_per_second} tokens/s; "
        f"wall time {run.wall_seconds} s", "",
    ]
    if losses:
        lines += ["| step | train loss |", "|---|---|", *[f"| {s} | {l:.4f} |" for s, l in losses[:: max(1, len(losses) // 10)]], ""]
    if evals:
        lines += ["| step | validation loss |", "|---|---|", *[f"| {s} | {l:.4f} |" for s, l in evals], ""]
    lines += ["## Use", "", "```python", "from peft import PeftModel", "from transformers import AutoModelForCausalLM, AutoTokenizer",
              f"base = AutoModelForCausalLM.from_pretrained({front['base_model']!r})",
              "model = PeftModel.from_pretrained(base, 'PATH/TO/THIS/FOLDER')",
              "tokenizer = AutoTokenizer.from_pretrained('PATH/TO/THIS/FOLDER')  # carries the chat template", "```", ""]
    path = adapter_dir / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
