"""Runs one prepared training run (runs/<id>/). Called in-process, or once per process under
`accelerate launch` for distributed training: everything it needs is in the run folder."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from expertune.atomic import write_atomic
from expertune.train.device import DevicePlan
from expertune.train.recipe import Recipe


def read_run(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "run.json").read_text())


def write_run(run_dir: Path, record: dict[str, Any]) -> None:
    write_atomic(run_dir / "run.json", json.dumps(record, indent=2, default=str))


def last_checkpoint(run_dir: Path) -> Path | None:
    ckpts = sorted((run_dir / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    return ckpts[-1] if ckpts else None


def _examples(run_dir: Path) -> dict[str, list[dict]]:
    out = {}
    for split in ("train", "val"):
        path = run_dir / "data" / f"{split}.jsonl"
        out[split] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    return out


def run_training(run_dir: Path, *, resume: bool = False, show_progress: bool = True) -> dict[str, Any]:
    import torch
    from transformers import EarlyStoppingCallback, set_seed

    from expertune.train.progress import GracefulInterrupt, LogFile, RichProgress
    from expertune.train.sft import build_trainer

    record = read_run(run_dir)
    recipe = Recipe.model_validate(record["recipe"])
    plan = DevicePlan(**record["device"])
    set_seed(recipe.seed)
    torch.set_num_threads(max(1, record.get("threads_per_process") or torch.get_num_threads()))

    examples = _examples(run_dir)
    interrupt = GracefulInterrupt()
    callbacks = [RichProgress(show_progress), interrupt, LogFile(run_dir / "progress.jsonl")]
    if examples["val"] and recipe.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=recipe.early_stopping_patience))
    trainer = build_trainer(recipe, plan, record["base_model"]["path"], examples, run_dir / "checkpoints",
                            callbacks=callbacks)
    checkpoint = last_checkpoint(run_dir) if resume else None
    is_main = trainer.is_world_process_zero()
    if is_main:
        record.update(status="running", resumed_from=str(checkpoint) if checkpoint else record.get("resumed_from"))
        record.setdefault("started_at", time.time())
        write_run(run_dir, record)

    interrupt.install()
    started = time.perf_counter()
    try:
        output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    finally:
        interrupt.uninstall()
    wall = time.perf_counter() - started
    if not is_main:
        return record

    state = trainer.state
    tokens = max((h.get("num_tokens", 0) for h in state.log_history), default=0)
    record.update(
        log_history=state.log_history,
        steps=state.global_step,
        max_steps=state.max_steps,
        train_loss=output.training_loss,
        wall_seconds=round(wall + record.get("wall_seconds_before_resume", 0.0), 2),
        trained_tokens=int(tokens),
        tokens_per_second=round(tokens / wall, 1) if wall > 0 else None,
        best_checkpoint=state.best_model_checkpoint,
        best_step=int(state.best_model_checkpoint.rsplit("-", 1)[1]) if state.best_model_checkpoint else state.global_step,
        best_eval_loss=state.best_metric,
        finished_at=time.time(),
    )
    if interrupt.requested:
        record["status"] = "interrupted"
        record["wall_seconds_before_resume"] = record["wall_seconds"]
    else:
        # With load_best_model_at_end the model in memory is the best checkpoint's: that is what ships.
        trainer.save_model(str(run_dir / "adapter"))
        trainer.processing_class.save_pretrained(str(run_dir / "adapter"))
        record["status"] = "trained"
    write_run(run_dir, record)
    return record


if __name__ == "__main__":
    run_training(Path(sys.argv[1]), resume="--resume" in sys.argv[2:], show_progress="--no-progress" not in sys.argv[2:])
