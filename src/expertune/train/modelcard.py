"""A model card written next to every registered adapter (README.md, Hugging Face style)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from expertune.models.builtin import portable_id


def write_model_card(adapter_dir: Path, run: dict[str, Any], adapter: dict[str, Any]) -> Path:
    recipe = run["recipe"]
    base = run["base_model"]
    front = {
        "library_name": "peft" if recipe["method"] != "full" else "transformers",
        "base_model": portable_id(base["name"]),
        "tags": ["expertune", recipe["method"], "sft"],
    }
    losses = [(h["step"], h["loss"]) for h in run.get("log_history", []) if "loss" in h]
    evals = [(h["step"], h["eval_loss"]) for h in run.get("log_history", []) if "eval_loss" in h]
    lines = [
        "---", yaml.safe_dump(front, sort_keys=False).strip(), "---", "",
        f"# {adapter['name']} v{adapter['version']}", "",
        f"A {recipe['method']} adapter trained by expertune on a curated expert dataset.", "",
        "## Lineage", "",
        f"- base model: `{base['name']}` (sha256 `{(base.get('sha256') or 'n/a')[:16]}`)",
        f"- dataset version: `{run['dataset_version']['hash'][:12]}` ({run['dataset_version'].get('name') or 'unnamed'})",
        f"- recipe: `{recipe['name']}`; run: `{run['id']}`",
        f"- chat template: {base.get('chat_template_source')} (saved as chat_template.jinja; evaluation and serving use it)",
        f"- system prompt policy: {recipe['system_prompt']}", "",
        "## Training", "",
        f"- method {recipe['method']}, LoRA r={recipe['lora']['r']} alpha={recipe['lora']['alpha']} "
        f"on {recipe['lora']['target_modules']}" if recipe["method"] != "full" else "- method full",
        f"- learning rate {recipe['learning_rate']} ({recipe['lr_scheduler']}), max length {recipe['max_length']}, "
        f"batch {recipe['per_device_batch_size']}×{recipe['gradient_accumulation']} per device",
        f"- device: {run['device']['device']} ({run['device']['precision']}; {run['device']['reason']})",
        f"- steps: {run.get('steps')}; shipped checkpoint: step {run.get('best_step')} "
        f"(best validation loss {run.get('best_eval_loss')})",
        f"- trained tokens: {run.get('trained_tokens')}; {run.get('tokens_per_second')} tokens/s; "
        f"wall time {run.get('wall_seconds')} s", "",
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
