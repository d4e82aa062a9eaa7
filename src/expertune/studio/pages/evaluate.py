"""Evaluate page: start an evaluation run from a config (in a worker process), follow its stages,
open its report. The run itself is `evaluate.pipeline.run_eval`, as `expertune eval run`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from expertune.errors import InputError
from expertune.evaluate.runs import get_run, list_runs
from expertune.studio import jobs
from expertune.studio.web import redirect, render, user, workspace

router = APIRouter()
DONE = ("completed", "failed", "cancelled")


def config_files(ws) -> list[str]:
    """Eval configs in the workspace (its folder and evals/), as paths relative to it."""
    found = [*ws.root.glob("*.yaml"), *ws.root.glob("*.yml"), *(ws.root / "evals").glob("*.y*ml")]
    return sorted(str(p.relative_to(ws.root)) for p in found if p.name != "expertune.yaml")


@router.get("/evaluate")
def evaluate_page(request: Request):
    ws = workspace(request)
    return render(request, "evaluate.html", active="evaluate", configs=config_files(ws), runs=list_runs(ws),
                  jobs=jobs.list_jobs(ws, "evaluate"))


@router.post("/evaluate/start")
def start(request: Request, config: str = Form(""), yaml_text: str = Form("")):
    ws = workspace(request)
    if yaml_text.strip():
        folder = ws.root / "evals"
        folder.mkdir(exist_ok=True)
        path = folder / f"studio-{datetime.now().strftime('%Y%m%d-%H%M%S')}.yaml"
        path.write_text(yaml_text.replace("\r\n", "\n"), encoding="utf-8")
    elif config in config_files(ws):
        path = ws.root / config
    else:
        raise InputError("choose an eval config from the list, or paste one")
    job_id = jobs.start_evaluation(ws, path, author=user(request))
    return redirect(f"/evaluate/jobs/{job_id}")


@router.get("/evaluate/jobs/{job_id}")
def job_page(request: Request, job_id: int):
    ws = workspace(request)
    job = jobs.get_job(ws, job_id)
    return render(request, "eval_job.html", active="evaluate", job=job, stage=jobs.stage(ws, job_id), done=DONE)


@router.get("/evaluate/runs/{run_id}/report")
def report(request: Request, run_id: int):
    """The run's self-contained HTML report, written fresh from the store."""
    from expertune.evaluate.report.build import write_report

    ws = workspace(request)
    get_run(ws, run_id)  # an unknown run is a NotFound (404) before anything is written
    result = write_report(ws, run_id)
    page = Path(result["path"]).read_text(encoding="utf-8")
    # The report is a standalone document made by expertune (user text in it is escaped); it uses
    # inline styles and images, never scripts.
    return HTMLResponse(page, headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                                                  "img-src data:; script-src 'none'"})
