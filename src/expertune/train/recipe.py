"""Training recipes: one validated config, from a shipped preset or a YAML file, with --set overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from expertune.config import StrictModel, load_config
from expertune.yamlfile import read_yaml
from expertune.errors import ConfigError

PRESETS = Path(__file__).resolve().parent.parent / "presets"


class LoraSettings(StrictModel):
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    # A list applies to every architecture; a mapping names modules per model type
    # (e.g. {llama: [q_proj, v_proj], gemma3: [q_proj, v_proj], default: [q_proj, v_proj]}).
    target_modules: list[str] | dict[str, list[str]] = Field(default_factory=lambda: ["q_proj", "v_proj"])

    def modules_for(self, model_type: str) -> list[str]:
        if isinstance(self.target_modules, list):
            return self.target_modules
        found = self.target_modules.get(model_type) or self.target_modules.get("default")
        if not found:
            raise ConfigError(
                f"lora.target_modules has no entry for model type {model_type!r} and no 'default'; "
                f"add one, e.g. {model_type}: [q_proj, v_proj]"
            )
        return found


class Recipe(StrictModel):
    name: str = "custom"
    description: str = ""
    base_model: str = "builtin:smollm2-135m-instruct"
    method: Literal["lora", "qlora", "full"] = "lora"
    lora: LoraSettings = Field(default_factory=LoraSettings)
    adapter_name: str = Field("default", pattern=r"^[A-Za-z0-9_.-]+$")

    # Data
    max_length: int = Field(2048, ge=16)
    allow_truncation: bool = False
    # as-data: each group's own system prompt (the template's default when it has none);
    # drop: no system prompt; override: `system_prompt_text` for every example.
    system_prompt: Literal["as-data", "drop", "override"] = "as-data"
    system_prompt_text: str | None = None
    # Response-distribution learning: every accepted response is an example. A cap keeps at most
    # N responses per prompt group; "inverse" weighting samples each group equally often.
    group_cap: int | None = Field(None, ge=1)
    group_weighting: Literal["none", "inverse"] = "none"
    packing: bool | Literal["auto"] = "auto"
    # Unpacked batches drawn from examples of similar length: little compute is spent on padding.
    group_by_length: bool = True

    # Optimisation
    epochs: float = Field(2.0, gt=0)
    max_steps: int | None = Field(None, ge=1)
    per_device_batch_size: int = Field(8, ge=1)
    gradient_accumulation: int = Field(1, ge=1)
    learning_rate: float = Field(2e-4, gt=0)
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = "linear"
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    gradient_checkpointing: bool | Literal["auto"] = "auto"
    seed: int = 42

    # Validation, checkpoints, early stopping
    eval_steps: int = Field(50, ge=1)
    save_steps: int | None = Field(None, ge=1)  # default: eval_steps
    save_total_limit: int = Field(3, ge=1)
    early_stopping_patience: int | None = Field(3, ge=1)
    logging_steps: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> "Recipe":
        if self.system_prompt == "override" and not self.system_prompt_text:
            raise ValueError("system_prompt: override needs system_prompt_text")
        if self.group_weighting == "inverse" and self.packing is True:
            raise ValueError("group_weighting: inverse samples examples, which packing merges; set packing: false")
        save = self.save_steps or self.eval_steps
        if save % self.eval_steps:
            raise ValueError(f"save_steps ({save}) must be a multiple of eval_steps ({self.eval_steps}) to keep the best checkpoint")
        return self

    @property
    def checkpoint_steps(self) -> int:
        return self.save_steps or self.eval_steps



class DpoRecipe(Recipe):
    """A training recipe plus DPO's own settings (train/dpo.py)."""

    beta: float = Field(0.1, gt=0)  # strength of the pull towards the reference (SFT) model
    loss_type: str = "sigmoid"  # TRL's loss_type (sigmoid = the DPO paper's)
    human_pairs: bool = True  # also train on human blind verdicts (their prompts stop being held out)

def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS.glob("*.yaml"))


def recipe_path(ref: str | Path, *, near: Path | None = None) -> Path:
    """The file of a preset name or a recipe path (a relative `extends:` path is looked up next to
    the recipe that names it, then from the current folder)."""
    path = Path(ref)
    if not path.suffix and (PRESETS / f"{ref}.yaml").is_file():
        return PRESETS / f"{ref}.yaml"
    if near is not None and not path.is_absolute() and (near / path).is_file():
        return near / path
    if not path.is_file():
        raise ConfigError(f"recipe {str(ref)!r}: not a file and not a preset (presets: {', '.join(preset_names())})")
    return path


def load_recipe(ref: str | Path, overrides: list[str] | None = None, *, _chain: tuple[Path, ...] = ()) -> Recipe:
    """A shipped preset by name (e.g. `cpu-quick`) or a YAML file, with `--set` overrides.

    A recipe may start from another: `extends: brie-lora` (top-level keys replace the parent's).
    Errors name the recipe file (and the overrides) where the bad value came from.
    """
    path = recipe_path(ref)
    chain = (*_chain, path.resolve())
    data = read_yaml(path)
    data.setdefault("name", path.stem)
    parent = data.pop("extends", None)
    if parent is not None:
        if not isinstance(parent, str) or not parent.strip():
            raise ConfigError(f"{path}: extends: expected a preset name or a recipe file, e.g. extends: brie-lora "
                              f"(got {parent!r})")
        parent_path = recipe_path(parent, near=path.parent)
        if parent_path.resolve() in chain:
            cycle = " -> ".join(str(p) for p in (*chain, parent_path.resolve()))
            raise ConfigError(f"{path}: extends: {parent!r} leads back to a recipe already on the way ({cycle}); "
                              f"extend a different recipe or a preset")
        data = {**load_recipe(parent_path, _chain=chain).model_dump(mode="json"), **data}
    return load_config(Recipe, None, overrides, base=data, prefix="train", source=f"recipe {path}")
