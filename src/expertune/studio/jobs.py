"""Background jobs: a training or an evaluation runs in its own worker process; its state is a row in `jobs`.

`start_training` writes the row and spawns `python -m expertune.studio.worker` in a new session, so
the job outlives the request, the browser tab and the studio itself. The worker runs the library's
own `train.run.prepare` and `train.run.train` (what `expertune train` runs) and writes the outcome
to the row. One training at a time: a second start is refused while one is queued or running.
Cancel sends the worker SIGINT, which the trainer turns into "save a checkpoint and stop"; the
run can then resume from that checkpoint.

A row that says running but whose process is gone (machine restarted, worker killed) is marked
failed when read, so the page never shows a ghost job as live.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from expertune.atomic import write_atomic
from expertune.errors import InputError, NotFound
from expertune.records import RUN_FILE, read_run
from expertune.store.job_models import Job
from expertune.store.tables import utcnow
from expertune.train.recipe import load_recipe
from expertune.workspace import Workspace

LIVE = ("queued", "running")


class JobBusy(InputError):
    """A training is already running."""


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a finished child of this process is a zombie until reaped: not alive
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _reconcile(job: Job) -> Job:
    if job.status in LIVE and job.pid is not None and not _alive(job.pid):
        job.status, job.error, job.finished_at = "failed", "the worker process ended without reporting (killed?)", utcnow()
    return job


def job_dict(job: Job) -> dict[str, Any]:
    return {"id": job.id, "kind": job.kind, "status": job.status, "params": job.params, "author": job.author,
            "run_ref": job.run_ref, "pid": job.pid, "error": job.error, "created_at": job.created_at,
            "finished_at": job.finished_at}


def list_jobs(ws: Workspace, kind: str | None = None) -> list[dict[str, Any]]:
    with ws.session() as s:
        query = select(Job).order_by(Job.id.desc())
        if kind:
            query = query.where(Job.kind == kind)
        return [job_dict(_reconcile(j)) for j in s.scalars(query)]


def get_job(ws: Workspace, job_id: int) -> dict[str, Any]:
    with ws.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise NotFound(f"job {job_id} does not exist")
        return job_dict(_reconcile(job))


def _spawn(ws: Workspace, job_id: int) -> None:
    log = (ws.runs_dir / "studio")
    log.mkdir(parents=True, exist_ok=True)
    with open(log / f"job-{job_id}.log", "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "expertune.studio.worker", str(ws.root), str(job_id)],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=ws.root)
    with ws.session() as s:
        job = s.get(Job, job_id)
        if job.pid is None:
            job.pid = proc.pid


def _create(ws: Workspace, kind: str, params: dict[str, Any], author: str, run_ref: str | None = None) -> int:
    with ws.session() as s:
        for job in s.scalars(select(Job).where(Job.kind == kind, Job.status.in_(LIVE))):
            if _reconcile(job).status in LIVE:
                raise JobBusy(f"{kind} job {job.id} is still {job.status}; wait for it or cancel it first "
                              "(one at a time: they share this machine's cores)")
        job = Job(kind=kind, status="queued", params=params, author=author, run_ref=run_ref)
        s.add(job)
        s.flush()
        return job.id


def start_training(ws: Workspace, recipe: str, overrides: list[str], *, author: str) -> int:
    """Validate the recipe here (errors go back to the form), then train in a worker process."""
    load_recipe(recipe, overrides)
    job_id = _create(ws, "train", {"recipe": recipe, "overrides": overrides}, author)
    _spawn(ws, job_id)
    return job_id


def resume(ws: Workspace, job_id: int, *, author: str) -> int:
    """A new job that continues a cancelled or failed one's run (from its checkpoint or cache)."""
    old = get_job(ws, job_id)
    if old["status"] not in ("cancelled", "failed") or not old["run_ref"]:
        raise InputError(f"job {job_id} is {old['status']}; only a cancelled or failed job with a run can resume")
    new_id = _create(ws, old["kind"], {**old["params"], "resume_of": job_id}, author, run_ref=old["run_ref"])
    _spawn(ws, new_id)
    return new_id


def cancel(ws: Workspace, job_id: int) -> None:
    job = get_job(ws, job_id)
    if job["status"] not in LIVE:
        raise InputError(f"job {job_id} is {job['status']}; there is nothing to cancel")
    if job["pid"]:
        try:
            os.killpg(job["pid"], signal.SIGINT)  # the trainer saves a checkpoint and stops
        except ProcessLookupError:
            pass


def progress(ws: Workspace, job: dict[str, Any]) -> dict[str, Any]:
    """Loss curve, validation loss, tokens/s and step of a training job's run, read from its files."""
    if not job["run_ref"]:  # still preparing (snapshot, gate, audit): no run folder yet
        return {"points": [], "eval_points": [], "step": 0, "max_steps": None, "tokens_per_second": None,
                "run_status": None, "adapter": None, "best_step": None}
    run_dir = ws.runs_dir / job["run_ref"]
    logs = []
    path = run_dir / "progress.jsonl"
    if path.is_file():
        logs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    points = [(e["step"], e["loss"]) for e in logs if "loss" in e]
    evals = [(e["step"], e["eval_loss"]) for e in logs if "eval_loss" in e]
    toks = [e for e in logs if "num_tokens" in e]
    rate = None
    if len(toks) >= 2 and toks[-1]["time"] > toks[0]["time"]:
        rate = round((toks[-1]["num_tokens"] - toks[0]["num_tokens"]) / (toks[-1]["time"] - toks[0]["time"]), 1)
    record = read_run(run_dir) if (run_dir / RUN_FILE).is_file() else None
    return {"points": points, "eval_points": evals, "step": logs[-1]["step"] if logs else 0,
            "max_steps": logs[-1]["max_steps"] if logs else record.recipe.max_steps if record else None,
            "tokens_per_second": (record.tokens_per_second if record else None) or rate,
            "run_status": record.status if record else None,
            "adapter": record.adapter.model_dump() if record and record.adapter else None,
            "best_step": record.best_step if record else None}


def _stage_file(ws: Workspace, job_id: int) -> Path:
    return ws.runs_dir / "studio" / f"job-{job_id}.stage.json"


def write_stage(ws: Workspace, job_id: int, stage: str, done: int, total: int) -> None:
    """An evaluation's progress (stage, done of total), written by the worker for the page."""
    path = _stage_file(ws, job_id)
    write_atomic(path, json.dumps({"stage": stage, "done": done, "total": total}))


def stage(ws: Workspace, job_id: int) -> dict[str, Any]:
    path = _stage_file(ws, job_id)
    return json.loads(path.read_text()) if path.is_file() else {"stage": "starting", "done": 0, "total": 0}


def start_evaluation(ws: Workspace, config: Path, *, author: str) -> int:
    """Validate the eval config here (errors go back to the form), then run it in a worker process."""
    from expertune.evaluate.config import load_eval_config

    load_eval_config(config)
    job_id = _create(ws, "evaluate", {"config": str(config)}, author)
    _spawn(ws, job_id)
    return job_id
