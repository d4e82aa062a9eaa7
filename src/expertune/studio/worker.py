"""The worker process of one studio job: `python -m expertune.studio.worker WORKSPACE JOB_ID`.

It runs the same library functions as `expertune train`, records the run id as soon as the run
folder exists (so the page can follow its loss curve), and writes the outcome to the job row.
SIGINT (the studio's Cancel) makes the trainer save a checkpoint and stop: the job is "cancelled"
and can resume. An evaluation resumes from what the store holds (its stages are cached by content).
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

from expertune.errors import ExpertuneError
from expertune.store.job_models import Job
from expertune.store.tables import utcnow
from expertune.workspace import Workspace


def _update(ws: Workspace, job_id: int, **values) -> None:
    with ws.session() as s:
        job = s.get(Job, job_id)
        for key, value in values.items():
            setattr(job, key, value)
        job.updated_at = utcnow()


def run_train(ws: Workspace, job_id: int, params: dict, run_ref: str | None) -> str:
    """`expertune train RECIPE`: prepared first so the run id (and its loss log) is known at once."""
    from expertune.train.recipe import load_recipe
    from expertune.train.run import prepare, train

    if run_ref is None:
        run_dir = prepare(ws, load_recipe(params["recipe"], params.get("overrides")), dataset_version=None,
                          allow=params.get("allow", []), num_processes=1)
        run_ref = run_dir.name
        _update(ws, job_id, run_ref=run_ref)
    record = train(ws, resume=True, run_id=run_ref, show_progress=False)
    return {"completed": "completed", "interrupted": "cancelled"}.get(record.status, "failed")


def run_evaluate(ws: Workspace, job_id: int, params: dict, run_ref: str | None) -> str:
    """`expertune eval run CONFIG`: the run is created first so the page can link to it at once."""
    from contextlib import contextmanager

    from expertune.evaluate.pipeline import run_eval, start_run
    from expertune.studio.jobs import write_stage

    if run_ref is None:
        run_ref = str(start_run(ws, Path(params["config"]), params.get("overrides")).id)
        _update(ws, job_id, run_ref=run_ref)

    @contextmanager
    def progress(stage: str):
        write_stage(ws, job_id, stage, 0, 0)
        yield lambda done, total: write_stage(ws, job_id, stage, done, total)

    run_eval(ws, resume=int(run_ref), progress=progress)
    return "completed"


RUNNERS = {"train": run_train, "evaluate": run_evaluate}


def main(root: str, job_id: int) -> None:
    from expertune.quiet import quiet_warnings

    quiet_warnings()
    ws = Workspace(Path(root))
    with ws.session() as s:
        job = s.get(Job, job_id)
        params, run_ref, kind = dict(job.params), job.run_ref, job.kind
        job.status, job.pid, job.updated_at = "running", os.getpid(), utcnow()
    try:
        if kind not in RUNNERS:
            raise ExpertuneError(f"unknown job kind {kind!r}")
        status = RUNNERS[kind](ws, job_id, params, run_ref)
        _update(ws, job_id, status=status, finished_at=utcnow())
    except KeyboardInterrupt:
        _update(ws, job_id, status="cancelled", finished_at=utcnow())
    except ExpertuneError as err:
        _update(ws, job_id, status="failed", error=str(err), finished_at=utcnow())
    except Exception as err:  # a bug: keep the traceback in the job's log, the message in the row
        traceback.print_exc()
        _update(ws, job_id, status="failed", error=f"{type(err).__name__}: {err}", finished_at=utcnow())


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
