"""Blind human review of an evaluation run: two answers under neutral labels, in an order chosen
at random, the better one (keys A / B) or a tie (T), optional criterion scores and a note.

Which comparisons, in which order, under which labels, and how a verdict is stored are all
`evaluate.pairwise.human`'s (the same session the terminal's `expertune eval human` drives); this page only
shows and reads. Nothing on it names a candidate or the run (a run's name may say which side is
tuned): the context passed to the template is the run id, the progress and the `Shown` comparison.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Form, Request
from starlette.concurrency import run_in_threadpool

from expertune.errors import InputError
from expertune.evaluate.pairwise.human import (
    judge_name_for,
    next_comparison,
    progress,
    record_human_judgment,
    start_human_session,
)
from expertune.studio.web import redirect, render, user, workspace

router = APIRouter()
SCORE_FIELD = "score:"  # score:LABEL:CRITERION
LONGEST_SHOWING = 24 * 3600.0  # a page left open overnight does not count as a day of judging


@router.get("/evaluate/runs/{run_id}/human")
def review_page(request: Request, run_id: int):
    session = start_human_session(workspace(request), run_id, judge_name_for(user(request)))
    shown = next_comparison(session)
    return render(request, "human.html", active="evaluate", run_id=run_id, shown=shown, progress=progress(session),
                  shown_at=f"{time.time():.3f}")


@router.post("/evaluate/runs/{run_id}/human/sample")
def choose_sample(request: Request, run_id: int, sample: int = Form(...), prefer: str = Form("random")):
    """Judge only `sample` comparisons, at random or where the LLM judges disagree most; the
    choice is kept for this person's later visits (as `eval human --sample`)."""
    start_human_session(workspace(request), run_id, judge_name_for(user(request)), sample=sample, prefer=prefer)
    return redirect(f"/evaluate/runs/{run_id}/human")


@router.post("/evaluate/runs/{run_id}/human/{comparison}")
async def judge(request: Request, run_id: int, comparison: str):
    form = await request.form()
    scores = scores_from_form(form.multi_items())
    seconds = seconds_since(str(form.get("shown_at", "")))
    ws, name = workspace(request), judge_name_for(user(request))

    def store() -> None:
        session = start_human_session(ws, run_id, name)
        record_human_judgment(session, comparison, str(form.get("verdict", "")), scores=scores,
                              note=str(form.get("note", "")), seconds=seconds)

    await run_in_threadpool(store)
    return redirect(f"/evaluate/runs/{run_id}/human")


def scores_from_form(items) -> dict[str, dict[str, int]]:
    """label -> criterion -> value from the `score:LABEL:CRITERION` selects; blank ones are skipped
    (the library checks labels, criteria and the scale)."""
    out: dict[str, dict[str, int]] = {}
    for key, value in items:
        if not key.startswith(SCORE_FIELD) or not str(value).strip():
            continue
        label, _, criterion = key[len(SCORE_FIELD):].partition(":")
        if not str(value).strip().isdigit():
            raise InputError(f"score of {criterion} for answer {label}: {value!r} is not a whole number")
        out.setdefault(label, {})[criterion] = int(value)
    return out


def seconds_since(shown_at: str) -> float | None:
    """How long the comparison was on screen, from the time the page was rendered (None if unknown)."""
    try:
        started = float(shown_at)
    except ValueError:
        return None
    return min(max(time.time() - started, 0.0), LONGEST_SHOWING)
