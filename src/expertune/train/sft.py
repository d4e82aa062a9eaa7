"""TRL SFTTrainer + PEFT set-up. Examples reach TRL already tokenised by the one renderer
(llm/render.py): `input_ids` and `completion_mask` columns, which TRL takes as they are (it builds
the labels from the mask, truncates to max_length and drops rows left without a trained token).
The audit tokenises with the same function, so it shows exactly what the trainer trains."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from expertune.llm.render import SystemPolicy, render
from expertune.quiet import quiet_model_libraries
from expertune.train.device import DevicePlan
from expertune.train.recipe import Recipe


def use_packing(recipe: Recipe, plan: DevicePlan) -> bool:
    """Packed (padding-free) batches need FlashAttention to be fast: with SDPA the packed rows are
    attended with a block-diagonal mask over the whole row, which measured ~1.5x slower on a CPU
    than padded batches of similar lengths. So "auto" packs only on CUDA with flash-attn."""
    if recipe.packing == "auto":
        if recipe.group_weighting != "none" or plan.device != "cuda":
            return False
        import importlib.util

        return importlib.util.find_spec("flash_attn") is not None
    return bool(recipe.packing)


def training_tokenizer(model_path: str):
    """The tokenizer (and so the chat template) training renders with; saved with the adapter."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def tokenise(examples: list[dict], tokenizer, policy: SystemPolicy) -> list[dict[str, Any]]:
    """Prompt-completion examples as the rows TRL trains on: the rendered conversation, the mask of
    its completion tokens (EOS included), and the example's group and response ids."""
    rows = []
    for ex in examples:
        ids, mask = render([*ex["prompt"], *ex["completion"]], tokenizer, policy)
        rows.append({"input_ids": ids, "completion_mask": mask, "group_id": ex.get("group_id"),
                     "response_id": ex.get("response_id")})
    return rows


def sft_config(recipe: Recipe, plan: DevicePlan, output_dir: Path, *, has_eval: bool, **extra: Any):
    from trl import SFTConfig

    packing = use_packing(recipe, plan)
    return SFTConfig(
        output_dir=str(output_dir),
        report_to="none",
        seed=recipe.seed,
        data_seed=recipe.seed,
        max_length=recipe.max_length,
        packing=packing,
        completion_only_loss=True,  # the loss mask is our completion_mask
        per_device_train_batch_size=recipe.per_device_batch_size,
        per_device_eval_batch_size=recipe.per_device_batch_size,
        gradient_accumulation_steps=recipe.gradient_accumulation,
        num_train_epochs=recipe.epochs,
        max_steps=recipe.max_steps or -1,
        learning_rate=recipe.learning_rate,
        lr_scheduler_type=recipe.lr_scheduler,
        warmup_steps=recipe.warmup_ratio,
        weight_decay=recipe.weight_decay,
        use_cpu=plan.device == "cpu",
        bf16=plan.precision == "bf16",
        fp16=plan.precision == "fp16",
        activation_checkpointing=plan.gradient_checkpointing,
        logging_steps=recipe.logging_steps,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=recipe.eval_steps,
        save_strategy="steps",
        save_steps=recipe.checkpoint_steps,
        save_total_limit=recipe.save_total_limit,
        load_best_model_at_end=has_eval,
        metric_for_best_model="eval_loss" if has_eval else None,
        greater_is_better=False if has_eval else None,
        dataloader_pin_memory=False,
        disable_tqdm=True,
        ddp_find_unused_parameters=False,
        # Unpacked batches are drawn from groups of similar length, so little compute goes to padding.
        train_sampling_strategy="group_by_length"
        if recipe.group_by_length and not packing and recipe.group_weighting == "none" else "random",
        **extra,
    )


def peft_config(recipe: Recipe, model_type: str, module_names: set[str]):
    """LoRA config; target modules are checked against the model before any training starts."""
    from peft import LoraConfig

    from expertune.errors import ConfigError

    if recipe.method == "full":
        return None
    targets = recipe.lora.modules_for(model_type)
    missing = [t for t in targets if t not in module_names]
    if missing:
        sample = ", ".join(sorted(module_names)[:12])
        raise ConfigError(f"lora.target_modules: {', '.join(missing)} not found in this {model_type} model; "
                          f"its linear layers are named: {sample}")
    return LoraConfig(r=recipe.lora.r, lora_alpha=recipe.lora.alpha, lora_dropout=recipe.lora.dropout,
                      target_modules=targets, task_type="CAUSAL_LM")


def linear_module_names(model) -> set[str]:
    import torch

    return {name.rsplit(".", 1)[-1] for name, mod in model.named_modules() if isinstance(mod, torch.nn.Linear)}


def load_base(model_path: str, recipe: Recipe, plan: DevicePlan):
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": torch.float32}
    if use_packing(recipe, plan):
        kwargs["attn_implementation"] = "flash_attention_2"
    if recipe.method == "qlora":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
    elif plan.precision in ("bf16", "fp16") and recipe.method == "lora":
        # Frozen base weights in half precision (a GPU, or a CPU with native bf16); PEFT keeps the LoRA
        # weights in fp32 under autocast. On a CPU this halves the model's memory and saves autocast
        # re-casting every frozen weight on every forward (it caches casts of trainable leaves only).
        kwargs["dtype"] = torch.bfloat16 if plan.precision == "bf16" else torch.float16
    return AutoModelForCausalLM.from_pretrained(model_path, **kwargs)


# Rows of the LM-head tile in TRL's fused log-prob kernel. TRL scores 4,096 positions per tile;
# on a CPU its fallback folds each tile with torch ops, whose fp32 temporaries then take ~0.4 GB
# each (4,096 x 32,768 vocabulary columns): most of the transient memory of a batch of 4 x 768.
# 512 rows keep them at ~64 MB, measured at the same speed (the projection is still a large matmul).
CPU_LOGPROB_TILE_ROWS = 512


def fit_logprob_tiles(plan: DevicePlan) -> None:
    """Smaller LM-head tiles on a CPU (see CPU_LOGPROB_TILE_ROWS); GPUs keep TRL's Triton tiles."""
    if plan.device != "cpu":
        return
    try:
        from trl.kernels import chunked_logprob
    except ImportError:  # a TRL without the fused head: nothing to fit
        return
    if not hasattr(chunked_logprob, "TOKEN_CHUNK_SIZE"):  # TRL moved it: train as TRL decides
        return
    chunked_logprob.TOKEN_CHUNK_SIZE = min(chunked_logprob.TOKEN_CHUNK_SIZE, CPU_LOGPROB_TILE_ROWS)


def build_trainer(recipe: Recipe, plan: DevicePlan, model_path: str, examples: dict[str, list[dict]],
                  output_dir: Path, *, callbacks: list | None = None):
    from datasets import Dataset

    quiet_model_libraries()
    tokenizer = training_tokenizer(model_path)
    policy = SystemPolicy.from_recipe(recipe)
    model = load_base(model_path, recipe, plan)
    fit_logprob_tiles(plan)
    lora = peft_config(recipe, model.config.model_type, linear_module_names(model))
    train_ds = Dataset.from_list(tokenise(examples["train"], tokenizer, policy))
    eval_ds = Dataset.from_list(tokenise(examples["val"], tokenizer, policy)) if examples.get("val") else None
    args = sft_config(recipe, plan, output_dir, has_eval=eval_ds is not None)
    trainer_cls = _weighted_trainer() if recipe.group_weighting == "inverse" else _trainer_cls()
    trainer = trainer_cls(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
                          processing_class=tokenizer, peft_config=lora, callbacks=callbacks or [])
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # our own progress display replaces its raw dict prints
    return trainer


def _trainer_cls():
    from trl import SFTTrainer

    return SFTTrainer


def _weighted_trainer():
    import torch
    from trl import SFTTrainer

    from expertune.train.data import group_weights

    class GroupWeightedSFTTrainer(SFTTrainer):
        """Samples each prompt group equally often, so prompts with many responses do not dominate."""

        def _get_train_sampler(self, train_dataset=None):
            # The dataset handed in here has lost its group_id column (the trainer drops columns
            # the model does not take); self.train_dataset is the same rows, columns intact.
            groups = self.train_dataset["group_id"]
            if train_dataset is not None and len(train_dataset) != len(groups):
                raise RuntimeError(f"group weighting: {len(train_dataset)} rows to sample, {len(groups)} group ids")
            weights = group_weights([{"group_id": g} for g in groups])
            generator = torch.Generator().manual_seed(self.args.seed)
            return torch.utils.data.WeightedRandomSampler(weights, num_samples=len(weights), replacement=True,
                                                          generator=generator)

    return GroupWeightedSFTTrainer
