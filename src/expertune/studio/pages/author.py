"""Author page: authoring sessions in the browser. The conversation so far, the drafts answering the
last question side by side (streamed as they are written), regenerate, direct a draft (the
instruction is kept in its provenance, never in the training text), accept several takes, edit in
place; a structure template and passages from the expert's documents guide the drafts.
Everything is `expertune.author` (sessions, drafting, dataset, documents, templates), as the
terminal studio uses it."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request

from expertune.author import dataset, drafting, sessions
from expertune.author.backends import backend_spec, open_backend
from expertune.author.documents import list_documents, passage_dict, search_passages, ticked_passages
from expertune.author.templates import check_structure, load_templates
from expertune.errors import InputError
from expertune.studio.web import EventStream, redirect, render, user, workspace

router = APIRouter()
MAX_TAKES = 4
PASSAGES = 5  # shown in the documents panel, as the terminal's /docs


@router.get("/author")
def author_home(request: Request):
    ws = workspace(request)
    return render(request, "author_home.html", active="author", sessions=sessions.list_sessions(ws),
                  base_model=ws.settings.base_model)


@router.post("/author/new")
def new_session(request: Request, model: str = Form(...), base_url: str = Form(""), api_key_env: str = Form(""),
                topic: str = Form(""), system: str = Form("")):
    spec = backend_spec(model.strip(), base_url=base_url.strip() or None, api_key_env=api_key_env.strip() or None)
    sid = sessions.create_session(workspace(request), backend=spec, topic=topic.strip() or None,
                                  system=system.strip() or None, author=user(request))
    return redirect(f"/author/{sid}")


def _view(ws, session_id: int) -> dict:
    with ws.session() as db:
        sess = sessions.get_session(db, session_id)
        path = sessions.path_to(db, sess.head_id)
        # The question being answered: the last user turn on the branch; its drafts are the takes.
        question = next((t for t in reversed(path) if t.role == "user"), None)
        takes = [sessions.turn_dict(t) for t in sessions.children(db, session_id, question.id)
                 if t.role == "assistant"] if question else []
        shown = path[:path.index(question) + 1] if question else path
        return {"sess": sessions.session_dict(sess), "path": [sessions.turn_dict(t) for t in shown],
                "question": sessions.turn_dict(question) if question else None, "takes": takes}


def _structure(templates, takes: list[dict]) -> dict[int, object]:
    """take id -> which parts of its template it shows (for takes written under a template)."""
    return {t["id"]: check_structure(templates[t["template"]], t["text"]) for t in takes
            if t["template"] in templates}


def _passages(ws, query: str) -> list[dict]:
    return [passage_dict(p) for p in search_passages(ws, query, k=PASSAGES)] if query.strip() else []


@router.get("/author/{session_id}")
def session_page(request: Request, session_id: int, q: str | None = None):
    ws = workspace(request)
    view = _view(ws, session_id)
    templates = load_templates(ws)
    # The documents panel searches the question being answered unless the expert typed a query.
    query = q if q is not None else (view["question"]["text"] if view["question"] else "")
    return render(request, "author.html", active="author", max_takes=MAX_TAKES, templates=templates,
                  structure=_structure(templates, view["takes"]), query=query, passages=_passages(ws, query),
                  documents=len(list_documents(ws)), **view)


@router.post("/author/{session_id}/template")
def choose_template(request: Request, session_id: int, template: str = Form("")):
    sessions.set_template(workspace(request), session_id, template or None)
    return redirect(f"/author/{session_id}")


@router.post("/author/{session_id}/ask")
def ask(request: Request, session_id: int, text: str = Form(...), after: str = Form("")):
    """The expert's next message, continuing from the take they chose (or from the head)."""
    parent = int(after) if after.isdigit() else None
    sessions.add_user_turn(workspace(request), session_id, text.replace("\r\n", "\n"), parent_id=parent)
    return redirect(f"/author/{session_id}")


@router.post("/author/{session_id}/takes")
def takes(request: Request, session_id: int, n: int = Form(2), q: str = Form(""), passage: list[int] = Form([])):
    """n further answers for the current question that differ from the accepted ones, grounded in
    the passages ticked in the documents panel as Regenerate is."""
    if not 1 <= n <= MAX_TAKES:
        raise InputError(f"takes: choose 1 to {MAX_TAKES}")
    ws = workspace(request)
    sources = ticked_passages(ws, q, passage, k=PASSAGES)
    return _write(request, session_id, drafting.plan_takes(ws, _question_id(ws, session_id), n=n, sources=sources))


@router.post("/author/{session_id}/regen")
def regenerate(request: Request, session_id: int, q: str = Form(""), passage: list[int] = Form([])):
    """Another draft for the current question (a fresh seed), grounded in the passages the expert
    ticked in the documents panel (found again by the panel's query; recorded as its sources)."""
    ws = workspace(request)
    sources = ticked_passages(ws, q, passage, k=PASSAGES)
    return _write(request, session_id, drafting.plan_drafts(ws, _question_id(ws, session_id), origin="regen",
                                                            sources=sources))


@router.post("/author/turns/{turn_id}/direct")
def direct(request: Request, turn_id: int, instruction: str = Form("")):
    """A revision of a draft following the expert's instruction ("shorter", "cite the leading
    case"); the instruction goes to the model and the provenance, not into the training text."""
    plan = drafting.plan_direct(workspace(request), turn_id, instruction)
    return _write(request, plan.session_id, [plan])


def _question_id(ws, session_id: int) -> int:
    question = _view(ws, session_id)["question"]
    if question is None:
        raise InputError("type a question first; drafts answer the last question")
    return question["id"]


def _write(request: Request, session_id: int, plans: list[drafting.DraftPlan]):
    """Write the planned drafts. With `Accept: text/event-stream` (studio.js) the text streams as
    it is written (a browser leaving mid-draft cancels it: EventStream closes the drafts); without
    JavaScript the page reloads when they are stored."""
    ws = workspace(request)
    with ws.session() as db:
        model = open_backend(sessions.get_session(db, session_id).backend)
    written = drafting.write_drafts(ws, plans, model, author=user(request))
    if "text/event-stream" in request.headers.get("accept", ""):
        return EventStream(written)
    for _ in written:
        pass
    return redirect(f"/author/{session_id}")


@router.post("/author/turns/{turn_id}/accept")
def accept(request: Request, turn_id: int, session_id: int = Form(...)):
    dataset.accept(workspace(request), turn_id, author=user(request))
    return redirect(f"/author/{session_id}")


@router.post("/author/turns/{turn_id}/edit")
def edit(request: Request, turn_id: int, session_id: int = Form(...), text: str = Form(...)):
    sessions.edit_turn(workspace(request), turn_id, text.replace("\r\n", "\n"), author=user(request))
    return redirect(f"/author/{session_id}")
