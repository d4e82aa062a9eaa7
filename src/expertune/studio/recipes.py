"""Recipe fields as a form: flatten a recipe into (key, value-as-text) rows and turn the edited rows
back into `--set key=value` overrides, which `train.recipe.load_recipe` validates (the same as the CLI)."""

from __future__ import annotations

import json
from typing import Any

from expertune.train.recipe import load_recipe

HIDDEN = {"name", "description"}
# Shown first; the other fields sit under "All settings" (the flow stays short for a first run).
COMMON = ("base_model", "adapter_name", "epochs", "max_steps", "learning_rate", "lora.r", "lora.alpha",
          "max_length", "per_device_batch_size", "eval_steps", "early_stopping_patience")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def fields(recipe: str, overrides: list[str] | None = None) -> list[tuple[str, str]]:
    data = load_recipe(recipe, overrides).model_dump(mode="json")
    rows = []
    for key, value in data.items():
        if key in HIDDEN:
            continue
        if isinstance(value, dict):
            rows += [(f"{key}.{k}", _text(v)) for k, v in value.items()]
        else:
            rows.append((key, _text(value)))
    return rows


def overrides_from_form(recipe: str, submitted: dict[str, str]) -> list[str]:
    """Only the fields the user changed become overrides (so the preset keeps its own defaults); a
    field emptied by the user means "none" (e.g. no early stopping)."""
    original = dict(fields(recipe))
    return [f"{key}={submitted[key].strip() or 'null'}" for key, value in original.items()
            if key in submitted and submitted[key].strip() != value]
