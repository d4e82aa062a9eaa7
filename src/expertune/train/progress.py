"""Trainer callbacks: rich progress (loss, tokens/s, ETA) and a clean Ctrl-C."""

from __future__ import annotations

import signal
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from transformers import TrainerCallback


class RichProgress(TrainerCallback):
    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.bar: Progress | None = None
        self.task = None
        self.tokens_at_start: float | None = None
        self.time_at_start = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        if not (self.enabled and state.is_world_process_zero):
            return
        self.bar = Progress(
            TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True),
        )
        self.bar.start()
        self.task = self.bar.add_task("train", total=state.max_steps, completed=state.global_step, info="")
        self.time_at_start = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not self.bar or not logs:
            return
        parts = []
        if "loss" in logs:
            parts.append(f"loss {logs['loss']:.3f}")
        if "eval_loss" in logs:
            parts.append(f"val {logs['eval_loss']:.3f}")
        if "num_tokens" in logs:
            if self.tokens_at_start is None:
                self.tokens_at_start = 0.0 if state.global_step <= args.logging_steps else logs["num_tokens"]
            elapsed = time.perf_counter() - self.time_at_start
            if elapsed > 0:
                parts.append(f"{(logs['num_tokens'] - self.tokens_at_start) / elapsed:.0f} tok/s")
        if parts:
            self.bar.update(self.task, info=" · ".join(parts))

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar:
            self.bar.update(self.task, completed=state.global_step)

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar:
            self.bar.stop()
            self.bar = None


class GracefulInterrupt(TrainerCallback):
    """First Ctrl-C: finish the current step, save a checkpoint and stop (the run can resume).
    A second Ctrl-C stops at once."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def install(self) -> None:
        self._previous = signal.signal(signal.SIGINT, self._handle)

    def uninstall(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        Console(stderr=True).print("[yellow]stopping after this step and saving a checkpoint "
                                   "(Ctrl-C again to stop now); resume with `expertune train --resume`[/]")

    def on_step_end(self, args, state, control, **kwargs):
        if self.requested:
            control.should_save = True
            control.should_training_stop = True


class LogFile(TrainerCallback):
    """Appends every trainer log (loss, eval loss, tokens, step, time) to runs/<id>/progress.jsonl as
    it happens, so another process (the studio's Train page) can follow a run live, and a killed
    run still leaves its loss curve behind."""

    def __init__(self, path):
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        import json

        entry = {**logs, "step": state.global_step, "max_steps": state.max_steps, "time": time.time()}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, default=float) + "\n")
