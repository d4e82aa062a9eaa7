"""Review queue pages: the filtered list with bulk actions, a response, a prompt group."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request

from expertune.errors import InputError, StaleEditError
from expertune.store import repo
from expertune.studio import checkstore, review
from expertune.studio.web import redirect, render, user, workspace

router = APIRouter()
FILTERS = ("topic", "status", "author", "split", "check")


def _safe_back(url: str | None, default: str) -> str:
    """Only a path on this site: a form cannot send the user elsewhere after saving."""
    return url if url and url.startswith("/") and not url.startswith("//") and "\\" not in url else default


def _int(value: str | None, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise InputError(f"{name} {value!r}: expected a whole number") from None


@router.get("/review")
def review_list(request: Request, page: int = 1, undo: str = ""):
    ws = workspace(request)
    params = {k: request.query_params.get(k) or None for k in FILTERS}
    ids = checkstore.response_ids(ws, params["check"]) if params["check"] else None
    flt = review.ReviewFilter(topic=params["topic"], status=params["status"], author=params["author"],
                              split=params["split"], response_ids=ids, page=page)
    with ws.session() as s:
        rows, total = review.list_page(s, flt)
        options = review.filter_options(s)
    options["checks"] = checkstore.check_names(ws)
    query = {k: v for k, v in params.items() if v}
    pages = max(1, -(-total // flt.per_page))
    return render(request, "review.html", active="review", rows=rows, total=total, page=page, pages=pages,
                  params=params, options=options, query=urlencode(query), here=str(request.url.path) + (
                      "?" + urlencode({**query, "page": page}) if query or page > 1 else ""),
                  undo_ids=[int(x) for x in undo.split(",") if x.isdigit()])


@router.post("/review/bulk")
async def bulk(request: Request):
    form = await request.form()
    selected = [int(x) for x in form.getlist("sel")]
    versions = {rid: _int(form.get(f"v{rid}"), f"version of response {rid}") for rid in selected}
    if None in versions.values():
        raise InputError("the form did not say which versions you saw; reload the page")
    with workspace(request).session() as s:
        revs = review.bulk_status(s, versions, str(form.get("action")), author=user(request))
    back = _safe_back(form.get("back"), "/review")
    return redirect(back + ("&" if "?" in back else "?") + "undo=" + ",".join(map(str, revs)))


@router.post("/review/undo")
async def undo(request: Request):
    form = await request.form()
    with workspace(request).session() as s:
        review.undo(s, [int(x) for x in str(form.get("revisions", "")).split(",") if x.isdigit()], author=user(request))
    return redirect(_safe_back(form.get("back"), "/review"))


def _response_page(request: Request, response_id: int, *, status_code: int = 200, **extra):
    with workspace(request).session() as s:
        r = repo.get(s, "response", response_id)
        g = r.group
        return render(request, "response.html", status_code=status_code, active="review", r=r, g=g,
                      topic=g.topic.name if g.topic else None, history=review.history(s, response_id),
                      back=_safe_back(request.query_params.get("back"), "/review"), **extra)


@router.get("/responses/{response_id}")
def response_page(request: Request, response_id: int):
    return _response_page(request, response_id)


@router.post("/responses/{response_id}/edit")
def edit(request: Request, response_id: int, version: int = Form(...), text: str = Form(...),
         reason: str = Form("manual edit")):
    ws = workspace(request)
    try:
        with ws.session() as s:
            repo.edit_response(s, response_id, {"text": text.replace("\r\n", "\n")}, expected_version=version,
                               author=user(request), reason=reason.strip() or "manual edit")
    except StaleEditError as err:
        with ws.session() as s:
            r = repo.get(s, "response", response_id)
            theirs = review.changes_since(s, response_id, version)
            return render(request, "conflict.html", status_code=409, active="review", r=r, message=str(err),
                          mine=text, reason=reason, theirs=theirs,
                          their_diff=review.text_diff(review.text_at(s, response_id, version), r.text),
                          my_diff=review.text_diff(review.text_at(s, response_id, version), text))
    return redirect(f"/responses/{response_id}")


@router.post("/responses/{response_id}/set")
def set_fields(request: Request, response_id: int, version: int = Form(...), status: str = Form(""),
               rating: str = Form(""), preferred: str = Form("")):
    changes: dict = {}
    if status:
        changes["status"] = status
    if rating:
        changes["rating"] = None if rating == "none" else _int(rating, "rating")
    if preferred:
        changes["preferred"] = preferred == "yes"
    if not changes:
        raise InputError("nothing to change: choose a status, a rating or preferred")
    with workspace(request).session() as s:
        repo.edit_response(s, response_id, changes, expected_version=version, author=user(request), reason="review")
    return redirect(f"/responses/{response_id}")


@router.get("/groups/{group_id}")
def group_page(request: Request, group_id: int):
    with workspace(request).session() as s:
        g = repo.get(s, "group", group_id)
        return render(request, "group.html", active="review", g=g, topic=g.topic.name if g.topic else None,
                      responses=sorted(g.responses, key=lambda r: r.id))


@router.post("/groups/{group_id}/preferred")
async def set_preferred(request: Request, group_id: int):
    """Mark the ticked responses of a group preferred and the others not (preferences feed DPO)."""
    form = await request.form()
    wanted = {int(x) for x in form.getlist("preferred")}
    with workspace(request).session() as s:
        g = repo.get(s, "group", group_id)
        for r in sorted(g.responses, key=lambda r: r.id):
            if r.preferred != (r.id in wanted):
                seen = _int(form.get(f"v{r.id}"), f"version of response {r.id}")
                if seen is None:
                    raise InputError(f"response {r.id}: the form did not say which version you saw; reload the page")
                repo.edit_response(s, r.id, {"preferred": r.id in wanted}, expected_version=seen,
                                   author=user(request), reason="preference")
    return redirect(f"/groups/{group_id}")
