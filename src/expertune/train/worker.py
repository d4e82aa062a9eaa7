"""Runs one prepared training run (runs/<id>/). Called in-process, or once per process under
`accelerate launch` for distributed training: everything it needs is in the run folder."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from expertune.errors import InputError
from expertune.records import SftRun, read_run, write_run


def last_checkpoint(run_dir: Path) -> Path | None:
    ckpts = sorted((run_dir / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    return ckpts[-1] if ckpts else None


def _examples(run_dir: Path) -> dict[str, list[dict]]:
    out = {}
    for split in ("train", "val"):
        path = run_dir / "data" / f"{split}.jsonl"
        out[split] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    return out


def read_sft_run(run_dir: Path) -> SftRun:
    record = read_run(run_dir)
    if not isinstance(record, SftRun):
        raise InputError(f"{run_dir}: a {record.kind} run; only SFT runs are trained (and resumed) here")
    return record


def run_training(run_dir: Path, *, resume: bool = False, show_progress: bool = True) -> SftRun:
    import torch
    from transformers import EarlyStoppingCallback, set_seed

    from expertune.train.progress import GracefulInterrupt, LogFile, RichProgress
    from expertune.train.sft import build_trainer

    record = read_sft_run(run_dir)
    recipe, plan = record.recipe, record.device
    set_seed(recipe.seed)
    torch.set_num_threads(max(1, record.threads_per_process or torch.get_num_threads()))

    examples = _examples(run_dir)
    interrupt = GracefulInterrupt()
    callbacks = [RichProgress(show_progress), interrupt, LogFile(run_dir / "progress.jsonl")]
    if examples["val"] and recipe.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=recipe.early_stopping_patience))
    trainer = build_trainer(recipe, plan, record.base_model.path, examples, run_dir / "checkpoints",
                            callbacks=callbacks)
    checkpoint = last_checkpoint(run_dir) if resume else None
    is_main = trainer.is_world_process_zero()
    if is_main:
        record.status = "running"
        record.resumed_from = str(checkpoint) if checkpoint else record.resumed_from
        record.started_at = record.started_at or time.time()
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
    record = record.updated(
        log_history=state.log_history,
        steps=state.global_step,
        max_steps=state.max_steps,
        train_loss=output.training_loss,
        wall_seconds=round(wall + record.wall_seconds_before_resume, 2),
        trained_tokens=int(tokens),
        tokens_per_second=round(tokens / wall, 1) if wall > 0 else None,
        best_checkpoint=state.best_model_checkpoint,
        best_step=int(state.best_model_checkpoint.rsplit("-", 1)[1]) if state.best_model_checkpoint else state.global_step,
        best_eval_loss=state.best_metric,
        finished_at=time.time(),
    )
    if interrupt.requested:
        record.status = "interrupted"
        record.wall_seconds_before_resume = record.wall_seconds
    else:
        # With load_best_model_at_end the model in memory is the best checkpoint's: that is what ships.
        trainer.save_model(str(run_dir / "adapter"))
        trainer.processing_class.save_pretrained(str(run_dir / "adapter"))
        record.status = "trained"
    write_run(run_dir, record)
    return record


if __name__ == "__main__":
    run_training(Path(sys.argv[1]), resume="--resume" in sys.argv[2:], show_progress="--no-progress" not in sys.argv[2:])
