"""The worker process of one studio job: `python -m expertune.studio.worker WORKSPACE JOB_ID`.

It runs the same library functions as `expertune train`, records the run id as soon as the run
folder exists (so the page can follow its loss curve), and writes the outcome to the job row.
SIGINT (the studio's Cancel) makes the trainer save a checkpoint and stop: the job is "cancelled"
and can resume.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

from expertune.errors import ExpertuneError
from expertune.store.job_models import Job
from expertune.store.models import utcnow
from expertune.workspace import Workspace


def _update(ws: Workspace, job_id: int, **values) -> None:
    with ws.session() as s:
        job = s.get(Job, job_id)
        for key, value in values.items():
            setattr(job, key, value)
        job.updated_at = utcnow()


def run_train(ws: Workspace, job_id: int, params: dict, run_ref: str | None) -> str:
    from expertune.train.recipe import load_recipe
    from expertune.train.run import prepare, train

    if run_ref is None:
        run_dir = prepare(ws, load_recipe(params["recipe"], params.get("overrides")), dataset_version=None,
                          allow=params.get("allow", []), num_processes=1)
        run_ref = run_dir.name
        _update(ws, job_id, run_ref=run_ref)
    record = train(ws, resume=True, run_id=run_ref, show_progress=False)
    return {"completed": "completed", "interrupted": "cancelled"}.get(record.get("status"), "failed")


def main(root: str, job_id: int) -> None:
    from expertune.cli.app import quiet_libraries

    quiet_libraries()
    ws = Workspace(Path(root))
    with ws.session() as s:
        job = s.get(Job, job_id)
        params, run_ref, kind = dict(job.params), job.run_ref, job.kind
        job.status, job.pid, job.updated_at = "running", os.getpid(), utcnow()
    try:
        if kind != "train":
            raise ExpertuneError(f"unknown job kind {kind!r}")
        status = run_train(ws, job_id, params, run_ref)
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
