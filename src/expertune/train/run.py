"""`expertune train`: gate, audit, prepare the run folder, train (in-process or under accelerate),
register the shipped adapter. A run lives in runs/<id>/ and can resume from its last checkpoint."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

from expertune.data.versions import get_version, snapshot
from expertune.errors import ExpertuneError, InputError, NotFound
from expertune.models import resolve
from expertune.records import AdapterRef, DatasetRef, Hardware, SftRun, SystemPromptPolicy, TokenAudit, read_run
from expertune.train import registry
from expertune.train.audit import audit_examples, enforce
from expertune.train.data import load_examples, write_examples
from expertune.train.device import plan_for
from expertune.train.modelcard import write_model_card
from expertune.train.recipe import Recipe, load_recipe
from expertune.train.worker import read_sft_run, run_training, write_run
from expertune.workspace import Workspace

LAUNCHERS = ("none", "accelerate")


class TrainingFailed(ExpertuneError):
    exit_code = 1


def library_versions() -> dict[str, str]:
    out = {}
    for pkg in ("expertune", "torch", "transformers", "trl", "peft", "accelerate", "datasets"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def hardware() -> Hardware:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = None
    try:
        mem = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    return Hardware(cpu=cpu, cores=os.cpu_count(), ram_gib=mem, platform=platform.platform(),
                    gpus=[torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())])


def git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parents[3]
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def run_gate(ws: Workspace, recipe: Recipe, allow: Iterable[str]) -> dict[str, Any]:
    from expertune.curate.gate import run_gate as gate

    return gate(ws, allow=list(allow), max_length=recipe.max_length, base_model=recipe.base_model).as_dict()


def prepare(ws: Workspace, recipe: Recipe, *, dataset_version: str | None, allow: Iterable[str],
            num_processes: int | None) -> Path:
    version = get_version(ws, dataset_version) if dataset_version else snapshot(ws)
    gate = run_gate(ws, recipe, allow)
    base = resolve(recipe.base_model)
    plan = plan_for(recipe, base.path)
    examples = load_examples(version, recipe)
    if not examples["train"]:
        raise InputError(f"dataset version {version['hash'][:12]} has no training examples; import data and run `expertune split`")
    audit = audit_examples(recipe, base.path, base.chat_template_source, examples, n_samples=0)
    if "audit" not in set(allow):
        enforce(audit, recipe)

    run_id = f"{recipe.adapter_name}-{datetime.now().strftime('%Y%m%d-%H%M%S-%f')[:-3]}"
    run_dir = ws.runs_dir / run_id
    write_examples(examples, run_dir / "data")
    (run_dir / "audit.json").write_text(json.dumps(audit.as_dict(), indent=2))
    record = SftRun(
        id=run_id, status="prepared", created_at=time.time(), recipe=recipe,
        system_prompt_policy=SystemPromptPolicy(mode=recipe.system_prompt, text=recipe.system_prompt_text),
        base_model=base.as_dict(), dataset_version=dataset_ref(version),
        examples={k: len(v) for k, v in examples.items()}, device=plan, num_processes=num_processes,
        threads_per_process=max(1, (os.cpu_count() or 1) // (num_processes or 1)),
        libraries=library_versions(), hardware=hardware(), git_commit=git_commit(), gate=gate,
        audit=TokenAudit.model_validate({k: v for k, v in audit.as_dict().items() if k != "samples"}),
        command=sys.argv,
    )
    write_run(run_dir, record)
    return run_dir


def dataset_ref(version: dict[str, Any]) -> DatasetRef:
    """The lineage a run keeps of its dataset version (data.versions.version_dict)."""
    return DatasetRef.model_validate({k: version[k] for k in ("id", "hash", "name", "counts")})


def resume_hint(run_id: str) -> str:
    """The command that resumes this run (and not whichever unfinished run is newest)."""
    return f"expertune train --resume --run {run_id}"


def find_run(ws: Workspace, run_id: str | None) -> Path:
    if run_id:
        path = ws.runs_dir / run_id
        if not (path / "run.json").is_file():
            raise NotFound(f"run {run_id!r} not found in {ws.runs_dir}")
        return path
    # DPO runs do not resume (they train in one go), so only SFT runs are candidates.
    runs = {p.parent: read_run(p.parent) for p in ws.runs_dir.glob("*/run.json")}
    unfinished = [d for d, r in runs.items() if isinstance(r, SftRun) and r.status != "completed"]
    if not unfinished:
        raise NotFound("no unfinished training run to resume")
    return max(unfinished, key=lambda d: runs[d].created_at)


def accelerate_command(run_dir: Path, *, num_processes: int | None, accelerate_config: Path | None,
                       resume: bool = False, show_progress: bool = False) -> tuple[list[str], dict[str, str]]:
    """The `accelerate launch` command line and environment of a run's workers.

    Only what the user set is passed: accelerate's command-line arguments beat its config file, so
    a default written here (say `--num_machines 1`) would silently turn a multi-node config into
    one machine. With a config file, the file decides everything the user did not set."""
    import torch

    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if num_processes is not None:
        cmd += ["--num_processes", str(num_processes)]
    env = dict(os.environ)
    if accelerate_config:
        cmd += ["--config_file", str(accelerate_config)]
    else:
        cmd += ["--dynamo_backend", "no", "--mixed_precision", "no"]  # precision comes from the device plan
        processes = num_processes or 1
        if torch.cuda.is_available():
            cmd += ["--multi_gpu"] if processes > 1 else []
        else:
            # accelerate's CPU launcher silently runs one process; the multi-process launcher with
            # use_cpu runs N gloo processes.
            cmd += ["--multi_gpu", "--num_cpu_threads_per_process", str(max(1, (os.cpu_count() or 1) // processes))]
            env["ACCELERATE_USE_CPU"] = "true"
    cmd += ["-m", "expertune.train.worker", str(run_dir)]
    cmd += ["--resume"] if resume else []
    cmd += [] if show_progress else ["--no-progress"]
    return cmd, env


def launch(run_dir: Path, *, resume: bool, launcher: str, num_processes: int | None, show_progress: bool,
           accelerate_config: Path | None = None) -> SftRun:
    if launcher == "none":
        if num_processes not in (None, 1):
            raise InputError("--num-processes > 1 needs --launcher accelerate")
        return run_training(run_dir, resume=resume, show_progress=show_progress)
    if launcher != "accelerate":
        raise InputError(f"--launcher {launcher!r}: expected one of {', '.join(LAUNCHERS)}")
    cmd, env = accelerate_command(run_dir, num_processes=num_processes, accelerate_config=accelerate_config,
                                  resume=resume, show_progress=show_progress)
    proc = subprocess.run(cmd, env=env)
    if proc.returncode != 0:
        raise TrainingFailed(f"distributed training exited with code {proc.returncode}; "
                             f"resume with `{resume_hint(run_dir.name)}`")
    return read_sft_run(run_dir)


def train(ws: Workspace, recipe_ref: str | None = None, overrides: list[str] | None = None, *,
          dataset_version: str | None = None, resume: bool = False, run_id: str | None = None,
          launcher: str = "none", num_processes: int | None = None, allow: Iterable[str] = (), promote: bool = True,
          show_progress: bool = True, accelerate_config: Path | None = None) -> SftRun:
    if resume:
        run_dir = find_run(ws, run_id)
        num_processes = read_sft_run(run_dir).num_processes  # a run resumes as it was prepared
    else:
        if not recipe_ref:
            raise InputError("name a recipe (a preset such as cpu-quick, or a YAML file), or pass --resume")
        recipe = load_recipe(recipe_ref, overrides)
        run_dir = prepare(ws, recipe, dataset_version=dataset_version, allow=allow, num_processes=num_processes)
    record = launch(run_dir, resume=resume, launcher=launcher, num_processes=num_processes,
                    show_progress=show_progress, accelerate_config=accelerate_config)
    if record.status != "trained":
        return record
    return complete(ws, run_dir, record, promote=promote)


def complete(ws: Workspace, run_dir: Path, record: SftRun, *, promote: bool) -> SftRun:
    """Register the trained adapter, write its model card, and record it in the run."""
    adapter_dir = run_dir / "adapter"
    adapter = registry.register(ws, record, adapter_dir, promote=promote)
    write_model_card(adapter_dir, record, adapter)
    record = record.updated(status="completed", adapter=AdapterRef(name=adapter.name, version=adapter.version,
                                                                    ref=adapter.ref, path=adapter.path))
    write_run(run_dir, record)
    return record
