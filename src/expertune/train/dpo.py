"""Training on the expert's preferences: DPO from a registered SFT adapter.

Preference pairs come from two places: inside a prompt group (the review's preferred response
over the others, accepted over rejected, higher rating over lower: data.export.dpo_pairs), and
from human blind judgments (evaluate/pairwise/human.py: the answer a person chose over the other; ties
give no pair). The run starts from an SFT adapter (`expertune train dpo --from demo@current`) and
keeps training *that* LoRA with TRL's DPOTrainer; TRL copies the starting adapter as the frozen
reference, so DPO moves the model away from the SFT model it started from, not from the base.

Tokens come from the one renderer (llm/render.py) with the starting adapter's chat template and
system-prompt policy: TRL receives `prompt_ids`, `chosen_ids`, `rejected_ids` and tokenises
nothing itself, so DPO trains on the very prompts that evaluation and serving render.

Like SFT: the curation gate first, a token audit (EOS trained, nothing cut by max_length), a run
folder with run.json (recipe, base and starting adapter, dataset version, pair counts, libraries,
hardware, git commit), the adapter registered (and promoted) under the recipe's adapter name.
The measure of success is the **margin** on held-out pairs (val/test groups): log-probability of
the preferred answer minus the rejected one, before (the SFT adapter) and after, with a bootstrap
interval over prompt groups of the paired difference.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from typing import Any, Iterable

from expertune.config import load_config
from expertune.yamlfile import read_yaml
from expertune.errors import InputError
from expertune.llm.render import SystemPolicy, render
from expertune.records import AdapterRef, DpoRun, MarginSummary, PairAudit, PairCounts, write_run
from expertune.train.recipe import DpoRecipe, Recipe, recipe_path
from expertune.workspace import Workspace

HELD_OUT = ("val", "test")


def load_dpo_recipe(ref: str = "dpo", overrides: list[str] | None = None) -> DpoRecipe:
    path = recipe_path(ref)
    data = read_yaml(path)
    data.setdefault("name", path.stem)
    return load_config(DpoRecipe, None, overrides, base=data, prefix="train", source=f"recipe {path}")


# -- pairs ---------------------------------------------------------------------------------------
def review_pairs(ws: Workspace) -> list[dict[str, Any]]:
    """Pairs inside prompt groups, each tagged with its group's split."""
    from expertune.data.export import dpo_pairs, iter_rows

    with ws.session() as session:
        rows = list(iter_rows(session, "all", ("accepted", "rejected")))
    return [{**p, "source": "review"} for p in dpo_pairs(rows)]


def human_pairs(ws: Workspace) -> list[dict[str, Any]]:
    """Pairs from human blind judgments: the answer under the chosen label over the other one."""
    from sqlalchemy import select

    from expertune.store.eval_models import EvalGeneration, EvalJudgment, EvalPrompt

    out = []
    with ws.session() as session:
        rows = session.scalars(select(EvalJudgment).where(EvalJudgment.judge.like("human:%"), EvalJudgment.status == "ok",
                                                          EvalJudgment.verdict != "tie")).all()
        for row in rows:
            loser = next((label for label in row.mapping if label != row.verdict), None)
            chosen = session.get(EvalGeneration, row.mapping[row.verdict]["generation"])
            rejected = session.get(EvalGeneration, row.mapping[loser]["generation"]) if loser else None
            if chosen is None or rejected is None:
                continue
            prompt = session.scalar(select(EvalPrompt.messages).where(EvalPrompt.prompt_hash == chosen.prompt_hash).limit(1))
            if prompt is None:
                continue
            out.append({"prompt": prompt, "chosen": [{"role": "assistant", "content": chosen.text}],
                        "rejected": [{"role": "assistant", "content": rejected.text}], "group_id": chosen.prompt_hash,
                        "split": "train", "source": row.judge})
    return out


def preference_pairs(ws: Workspace, *, include_human: bool = True) -> dict[str, list[dict[str, Any]]]:
    """{"train": pairs to train on, "held_out": review pairs of val/test groups (never trained)}."""
    review = review_pairs(ws)
    train = [p for p in review if p["split"] == "train"] + (human_pairs(ws) if include_human else [])
    return {"train": train, "held_out": [p for p in review if p["split"] in HELD_OUT]}


def tokenize_pair(pair: dict[str, Any], tokenizer, policy: SystemPolicy) -> dict[str, Any]:
    """prompt_ids / chosen_ids / rejected_ids through the one renderer; the completions start
    where the two rendered conversations part (as TRL's own tokenising would cut them)."""
    chosen = render([*pair["prompt"], *pair["chosen"]], tokenizer, policy)
    rejected = render([*pair["prompt"], *pair["rejected"]], tokenizer, policy)
    start = min(chosen.prompt_length, rejected.prompt_length)
    for i in range(start):
        if chosen.input_ids[i] != rejected.input_ids[i]:
            start = i
            break
    return {"prompt_ids": chosen.input_ids[:start], "chosen_ids": chosen.input_ids[start:],
            "rejected_ids": rejected.input_ids[start:]}


def audit_pairs(tokenized: list[dict[str, Any]], tokenizer, max_length: int) -> PairAudit:
    """Every completion must contain its end-of-turn EOS (the model learns to stop; a template may
    write a newline after it) and fit in max_length."""
    eos = tokenizer.eos_token_id
    no_eos = sum(1 for t in tokenized for k in ("chosen_ids", "rejected_ids") if eos not in t[k])
    cut = sum(1 for t in tokenized if len(t["prompt_ids"]) + max(len(t["chosen_ids"]), len(t["rejected_ids"])) > max_length)
    return PairAudit(pairs=len(tokenized), completions_without_eos=no_eos, truncated_pairs=cut, max_length=max_length)


# -- margins -------------------------------------------------------------------------------------
def margins(model, tokenizer, pairs: list[dict[str, Any]], policy: SystemPolicy) -> list[float]:
    """log P(chosen | prompt) - log P(rejected | prompt) per pair (summed over completion tokens)."""
    from expertune.llm.scoring import completion_logprobs

    examples = [(p["prompt"], side[0]["content"]) for p in pairs for side in (p["chosen"], p["rejected"])]
    scores = completion_logprobs(model, tokenizer, examples, policy=policy)
    return [scores[2 * i]["sum_logprob"] - scores[2 * i + 1]["sum_logprob"] for i in range(len(pairs))]


def margin_summary(before: list[float], after: list[float], groups: list[str], *, n_boot: int = 2000,
                   seed: int = 0) -> MarginSummary:
    """Mean held-out margin before and after, and the paired change with an interval that
    resamples prompt groups (pairs of one group share a prompt)."""
    from expertune.evaluate import stats as st

    change = [a - b for a, b in zip(after, before)]
    n = len(change)
    return MarginSummary(pairs=n, groups=len(set(groups)),
                         before=sum(before) / n if n else None, after=sum(after) / n if n else None,
                         change=sum(change) / n if n else None,
                         change_ci=st.bootstrap_interval(change, groups, n_boot=n_boot, seed=seed),
                         ci_method=st.CLUSTERED, improved_pairs=sum(c > 0 for c in change))


# -- training ------------------------------------------------------------------------------------
def _trainer_cls():
    from trl import DPOTrainer

    class PreTokenizedDPOTrainer(DPOTrainer):
        """DPOTrainer over pairs already rendered by llm/render.py: no tokenising of its own."""

        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            return dataset

    return PreTokenizedDPOTrainer


def train_dpo(ws: Workspace, from_ref: str, recipe_ref: str = "dpo", overrides: list[str] | None = None, *,
              allow: Iterable[str] = (), promote: bool = True, show_progress: bool = True) -> DpoRun:
    """Gate, pairs, audit, DPO from the adapter `from_ref`, held-out margins, registry."""
    import torch
    from datasets import Dataset
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from trl import DPOConfig

    from expertune.data.versions import snapshot
    from expertune.store.adapters import resolve_adapter
    from expertune.models import resolve
    from expertune.quiet import quiet_model_libraries
    from expertune.train import registry
    from expertune.train.device import plan_for
    from expertune.train.modelcard import write_model_card
    from expertune.train.progress import RichProgress
    from expertune.train.run import dataset_ref, git_commit, hardware, library_versions, run_gate

    recipe = load_dpo_recipe(recipe_ref, overrides)
    start = resolve_adapter(ws, from_ref)
    if start.kind != "lora":
        raise InputError(f"--from {from_ref}: DPO continues a LoRA adapter; {start.label} is a {start.kind} model")
    sft_recipe = start.recipe or {}
    # The starting adapter's base and system-prompt policy: DPO must render what SFT rendered.
    recipe = recipe.model_copy(update={"base_model": start.base_model or recipe.base_model,
                                       "system_prompt": sft_recipe.get("system_prompt", recipe.system_prompt),
                                       "system_prompt_text": sft_recipe.get("system_prompt_text", recipe.system_prompt_text),
                                       "lora": Recipe.model_validate({"lora": sft_recipe["lora"]}).lora
                                       if sft_recipe.get("lora") else recipe.lora})
    policy = SystemPolicy.from_recipe(recipe)
    gate = run_gate(ws, recipe, allow)
    version = snapshot(ws)
    pairs = preference_pairs(ws, include_human=recipe.human_pairs)
    if not pairs["train"]:
        raise InputError("no preference pairs to train on: mark a preferred response in groups of the train split "
                         "(`preferred: true` on import, or in review), or judge comparisons with `expertune eval human`")
    quiet_model_libraries()
    set_seed(recipe.seed)
    base = resolve(recipe.base_model)
    tokenizer = AutoTokenizer.from_pretrained(start.path)  # the adapter's own tokenizer and chat template
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenized = [tokenize_pair(p, tokenizer, policy) for p in pairs["train"]]
    audit = audit_pairs(tokenized, tokenizer, recipe.max_length)
    if "audit" not in set(allow) and (audit.completions_without_eos or (audit.truncated_pairs and not recipe.allow_truncation)):
        raise InputError(f"training audit: {audit.completions_without_eos} completions do not end with EOS and "
                         f"{audit.truncated_pairs} pairs exceed max_length {recipe.max_length}; raise max_length, set "
                         "allow_truncation: true, or pass --allow audit")

    run_id = f"{recipe.adapter_name}-{datetime.now().strftime('%Y%m%d-%H%M%S-%f')[:-3]}"
    run_dir = ws.runs_dir / run_id
    (run_dir / "data").mkdir(parents=True, exist_ok=True)
    for split, rows in pairs.items():
        (run_dir / "data" / f"{split}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                                         encoding="utf-8")
    plan = plan_for(recipe, base.path)
    record = DpoRun(
        id=run_id, kind="dpo", status="prepared", created_at=time.time(), recipe=recipe,
        system_prompt_policy=policy.as_dict(), base_model=base.as_dict(), from_adapter=start,
        dataset_version=dataset_ref(version),
        pairs=PairCounts(train=len(pairs["train"]), held_out=len(pairs["held_out"]),
                         sources={s: sum(p["source"] == s for p in pairs["train"]) for s in {p["source"] for p in pairs["train"]}}),
        device=plan, libraries=library_versions(), hardware=hardware(), git_commit=git_commit(),
        gate=gate, audit=audit, command=list(sys.argv),
    )
    write_run(run_dir, record)

    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = AutoModelForCausalLM.from_pretrained(base.path, dtype=torch.float32)
    model = PeftModel.from_pretrained(model, start.path, is_trainable=True)
    held = pairs["held_out"]
    before = margins(model, tokenizer, held, policy) if held else []
    args = DPOConfig(
        output_dir=str(run_dir / "checkpoints"), report_to="none", seed=recipe.seed, beta=recipe.beta,
        loss_type=[recipe.loss_type], max_length=recipe.max_length, per_device_train_batch_size=recipe.per_device_batch_size,
        gradient_accumulation_steps=recipe.gradient_accumulation, num_train_epochs=recipe.epochs,
        max_steps=recipe.max_steps or -1, learning_rate=recipe.learning_rate, lr_scheduler_type=recipe.lr_scheduler,
        warmup_steps=recipe.warmup_ratio, weight_decay=recipe.weight_decay, use_cpu=plan.device == "cpu",
        bf16=plan.precision == "bf16", fp16=plan.precision == "fp16", activation_checkpointing=plan.gradient_checkpointing,
        logging_steps=recipe.logging_steps, save_strategy="no", dataloader_pin_memory=False, disable_tqdm=True,
    )
    trainer = _trainer_cls()(model=model, args=args, train_dataset=Dataset.from_list(tokenized), processing_class=tokenizer,
                             callbacks=[RichProgress(show_progress)])
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    started = time.time()
    result = trainer.train()
    after = margins(trainer.model, tokenizer, held, policy) if held else []
    adapter_dir = run_dir / "adapter"
    trainer.model.save_pretrained(str(adapter_dir), selected_adapters=["default"])
    tokenizer.save_pretrained(str(adapter_dir))
    # No validation loss to choose a checkpoint by: the last step ships (the margin measures it).
    record = record.updated(status="trained", steps=int(result.global_step), best_step=int(result.global_step),
                            train_loss=float(result.training_loss),
                            wall_seconds=round(time.time() - started, 1),
                            margins=margin_summary(before, after, [p["group_id"] for p in held], seed=recipe.seed),
                            log_history=trainer.state.log_history)
    adapter = registry.register(ws, record, adapter_dir, promote=promote)
    card = write_model_card(adapter_dir, record, adapter)
    m = record.margins
    with card.open("a", encoding="utf-8") as f:  # what the SFT card cannot say: where DPO started and what it moved
        f.write(f"\n## Preference training (DPO)\n\n- started from `{start.label}` (frozen copy as reference), beta "
                f"{recipe.beta}, {record.pairs.train} pairs ({record.pairs.sources})\n- held-out margin "
                f"(log P preferred - log P other): {m.before} -> {m.after}, change {m.change} "
                f"(95% interval over prompt groups {m.change_ci}, {m.pairs} pairs)\n")
    record = record.updated(status="completed", adapter=AdapterRef(name=adapter.name, version=adapter.version,
                                                                    ref=adapter.ref, path=adapter.path))
    write_run(run_dir, record)
    return record
