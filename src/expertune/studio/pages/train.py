"""Train page: a recipe form, the background training job with live loss by Server-Sent Events,
cancel and resume, the audit view, the adapter registry with promote and rollback."""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Form, Request
from fastapi.responses import StreamingResponse

from expertune.studio import jobs, recipes
from expertune.studio.chart import loss_chart
from expertune.studio.web import redirect, render, user, workspace
from expertune.store import adapters as registry
from expertune.train.recipe import preset_names

router = APIRouter()
DONE = ("completed", "failed", "cancelled")


@router.get("/train")
def train_page(request: Request, recipe: str = "cpu-quick"):
    ws = workspace(request)
    return render(request, "train.html", active="train", presets=preset_names(), recipe=recipe,
                  fields=recipes.fields(recipe), common=recipes.COMMON, jobs=jobs.list_jobs(ws, "train"), adapters=registry.list_adapters(ws),
                  error=None)


@router.post("/train/start")
async def start(request: Request):
    form = {k: str(v) for k, v in (await request.form()).items()}
    recipe = form.pop("recipe", "cpu-quick")
    submitted = {k[2:]: v for k, v in form.items() if k.startswith("f.")}
    ws = workspace(request)
    overrides = recipes.overrides_from_form(recipe, submitted)
    job_id = jobs.start_training(ws, recipe, overrides, author=user(request))
    return redirect(f"/train/jobs/{job_id}")


@router.get("/train/jobs/{job_id}")
def job_page(request: Request, job_id: int):
    ws = workspace(request)
    job = jobs.get_job(ws, job_id)
    progress = jobs.progress(ws, job)
    return render(request, "job.html", active="train", job=job, progress=progress, done=DONE,
                  chart=loss_chart(progress["points"], progress["eval_points"], progress["max_steps"]))


def _event(ws, job_id: int) -> dict:
    job = jobs.get_job(ws, job_id)
    extra = jobs.progress(ws, job) if job["kind"] == "train" else jobs.stage(ws, job_id)
    return {"status": job["status"], "error": job["error"], "run_ref": job["run_ref"], **extra}


@router.get("/jobs/{job_id}/events")
async def job_events(request: Request, job_id: int):
    """Server-Sent Events: the job's status and progress once a second until it ends."""
    ws = workspace(request)

    async def stream():
        last = None
        while not await request.is_disconnected():
            data = json.dumps(await asyncio.to_thread(_event, ws, job_id), default=str)
            if data != last:
                yield f"data: {data}\n\n"
                last = data
            if json.loads(data)["status"] in DONE:
                yield "event: done\ndata: {}\n\n"
                return
            await asyncio.sleep(1)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


def job_url(job: dict) -> str:
    return f"/{'train' if job['kind'] == 'train' else 'evaluate'}/jobs/{job['id']}"


@router.post("/jobs/{job_id}/cancel")
def cancel(request: Request, job_id: int):
    ws = workspace(request)
    jobs.cancel(ws, job_id)
    return redirect(job_url(jobs.get_job(ws, job_id)))


@router.post("/jobs/{job_id}/resume")
def resume(request: Request, job_id: int):
    ws = workspace(request)
    new_id = jobs.resume(ws, job_id, author=user(request))
    return redirect(job_url(jobs.get_job(ws, new_id)))


@router.get("/train/audit")
def audit_page(request: Request, recipe: str = "cpu-quick", n: int = 3):
    from expertune.studio.audit import audit

    return render(request, "audit.html", active="train", recipe=recipe, report=audit(workspace(request), recipe, n))


@router.post("/adapters/promote")
def promote(request: Request, ref: str = Form(...)):
    registry.promote(workspace(request), ref)
    return redirect("/train#adapters")


@router.post("/adapters/rollback")
def rollback(request: Request, name: str = Form(...)):
    registry.rollback(workspace(request), name)
    return redirect("/train#adapters")
