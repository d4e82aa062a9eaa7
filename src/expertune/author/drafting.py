"""Drafts: what the authoring model is asked, and saving what it wrote as turns of the tree.

A draft is planned (`DraftPlan`: the conversation sent to the model, the parameters and seed,
and the provenance to store), then run (`start`) as a stream the studio shows token by token and
may cancel, then saved (`PendingDraft.save`). The conversation sent to the model may carry
*guidance* - a structure template, attached passages, directing instructions, the answers a new
take must differ from - but the saved turn's text is only what the model answered: guidance is
recorded in the turn's provenance (instructions, sources, template) and never becomes training
text.

Kinds of plans: a draft for a user turn (k of them at different temperatures: `plan_drafts`), a
regeneration (another draft, a fresh seed), a directed revision of a draft (`plan_direct`),
further takes that differ from the accepted answers (`plan_takes`) and a proposed next question
(`plan_question`, saved as a user turn the expert may edit).
"""

from __future__ import annotations

import secrets
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from expertune.author.sessions import add_turn, children, default_author, get_session, get_turn, path_to, record_event
from expertune.errors import ExpertuneError, InputError
from expertune.llm.base import Conversation, GenParams
from expertune.llm.streaming import StreamingModel, TokenStream
from expertune.workspace import Workspace

# The Brie study's sampling temperatures: k drafts per turn cycle through them.
TEMPERATURES = (0.5, 0.75, 1.0)
DEFAULT_MAX_NEW_TOKENS = 256


@dataclass
class DraftPlan:
    session_id: int
    parent_id: int | None  # the user turn a draft answers (or the turn a proposed question follows)
    role: str  # assistant (a draft) | user (a proposed question)
    origin: str  # draft | regen | take | directed | proposed
    conversation: Conversation
    params: GenParams
    instructions: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    template: str | None = None
    based_on_id: int | None = None


def new_seed() -> int:
    return secrets.randbelow(2**31)


def session_params(sess, temperature: float | None = None, seed: int | None = None) -> GenParams:
    p = sess.params or {}
    return GenParams(temperature=p.get("temperature", TEMPERATURES[0]) if temperature is None else temperature,
                     max_new_tokens=p.get("max_new_tokens", DEFAULT_MAX_NEW_TOKENS), top_p=p.get("top_p", 1.0),
                     seed=new_seed() if seed is None else seed)


def _messages(path) -> Conversation:
    return [{"role": t.role, "content": t.text} for t in path if t.role in ("user", "assistant")]


def _system(sess, path, *, guidance: list[str]) -> list[dict[str, str]]:
    """The system message: the branch's own system turn (an import) or the session persona,
    followed by guidance for the authoring model only."""
    own = next((t.text for t in path if t.role == "system"), None)
    parts = [p for p in [own if own is not None else sess.system, *guidance] if p]
    return [{"role": "system", "content": "\n\n".join(parts)}] if parts else []


def _template_guidance(ws: Workspace, name: str | None) -> list[str]:
    if not name:
        return []
    from expertune.author.templates import load_templates

    templates = load_templates(ws)
    if name not in templates:
        raise InputError(f"template {name!r} does not exist; known: {', '.join(sorted(templates))}")
    return [templates[name].guidance()]


def _sources_guidance(sources: list[dict[str, Any]]) -> list[str]:
    if not sources:
        return []
    blocks = "\n\n".join(f"[{i}] ({s.get('path')}#{s.get('chunk')})\n{s.get('text')}" for i, s in enumerate(sources, 1))
    return ["Ground your answer in these passages from the expert's documents:\n\n" + blocks]


def _user_turn(db, turn_id: int):
    turn = get_turn(db, turn_id)
    if turn.role != "user":
        raise InputError(f"turn {turn_id} is an {turn.role} turn; drafts answer a user turn")
    return turn


def plan_drafts(ws: Workspace, user_turn_id: int, *, n: int = 1, temperatures: list[float] | None = None,
                sources: list[dict[str, Any]] | None = None, template: str | None = None,
                origin: str = "draft", seed: int | None = None) -> list[DraftPlan]:
    """n drafts answering a user turn, at the given temperatures (default: cycling TEMPERATURES)."""
    if n < 1:
        raise InputError(f"number of drafts {n}: expected at least 1")
    with ws.session() as db:
        turn = _user_turn(db, user_turn_id)
        sess = get_session(db, turn.session_id)
        template = template if template is not None else sess.template
        path = path_to(db, turn.id)
        system = _system(sess, path, guidance=[*_template_guidance(ws, template), *_sources_guidance(sources or [])])
        conversation = system + _messages(path)
        temps = temperatures or [TEMPERATURES[i % len(TEMPERATURES)] for i in range(n)]
        return [DraftPlan(sess.id, turn.id, "assistant", origin, conversation,
                          session_params(sess, temps[i % len(temps)], None if seed is None else seed + i),
                          sources=list(sources or []), template=template) for i in range(n)]


def plan_direct(ws: Workspace, draft_id: int, instruction: str) -> DraftPlan:
    """A revision of a draft following the expert's instruction ("shorter", "cite the leading
    case", "structure it as IRAC"); the instruction is provenance, not training text."""
    if not instruction.strip():
        raise InputError("the directing instruction is empty; e.g. /direct \"shorter, with the leading case\"")
    with ws.session() as db:
        draft = get_turn(db, draft_id)
        if draft.role != "assistant":
            raise InputError(f"turn {draft_id} is a {draft.role} turn; /direct revises a draft answer")
        sess = get_session(db, draft.session_id)
        path = path_to(db, draft.id)
        guidance = [*_template_guidance(ws, draft.template), *_sources_guidance(draft.sources or [])]
        conversation = _system(sess, path, guidance=guidance) + _messages(path) + [{
            "role": "user",
            "content": f"Revise your previous answer as follows: {instruction.strip()}\n"
                       "Reply with the revised answer only, with no preamble and no comment on the change."}]
        params = session_params(sess, (draft.params or {}).get("temperature"))
        return DraftPlan(sess.id, draft.parent_id, "assistant", "directed", conversation, params,
                         instructions=[*(draft.instructions or []), instruction.strip()], sources=list(draft.sources or []),
                         template=draft.template, based_on_id=draft.id)


def plan_takes(ws: Workspace, user_turn_id: int, n: int = 1, *,
               sources: list[dict[str, Any]] | None = None) -> list[DraftPlan]:
    """Further answers that differ from the ones already accepted for this prompt, grounded in
    `sources` (the attached or ticked passages) as any draft is."""
    plans = plan_drafts(ws, user_turn_id, n=n, origin="take", sources=sources)
    with ws.session() as db:
        accepted = [t.text for t in children(db, plans[0].session_id, user_turn_id)
                    if t.role == "assistant" and t.status == "accepted"]
    if accepted:
        listing = "\n\n".join(f"Answer {i}:\n{a}" for i, a in enumerate(accepted, 1))
        note = ("Other good answers to this question already exist (below). Write a different good answer: "
                "vary the structure, the examples and the emphasis, and do not repeat their wording.\n\n" + listing)
        for plan in plans:
            conv = plan.conversation
            if conv and conv[0]["role"] == "system":
                plan.conversation = [{"role": "system", "content": conv[0]["content"] + "\n\n" + note}, *conv[1:]]
            else:
                plan.conversation = [{"role": "system", "content": note}, *conv]
            plan.instructions = ["differ from the accepted answers"]
    return plans


def plan_question(ws: Workspace, session_id: int, *, hint: str | None = None,
                  passage: dict[str, Any] | None = None) -> DraftPlan:
    """A proposed next question from the expert's side (e.g. "a harder follow-up"), or one
    seeded from a document passage; saved as a user turn the expert can edit or branch from."""
    with ws.session() as db:
        sess = get_session(db, session_id)
        path = path_to(db, sess.head_id)
        lines = [f"{t.role.upper()}: {t.text}" for t in path if t.role in ("user", "assistant")]
        ask = ("You help a domain expert write training conversations"
               + (f" about {sess.topic}" if sess.topic else "") + ". ")
        if passage is not None:
            ask += "Propose one question an expert would ask about this passage:\n\n" + str(passage.get("text"))
        elif lines:
            ask += ("Here is the conversation so far:\n\n" + "\n\n".join(lines) + "\n\nPropose the user's next "
                    "question: " + (hint or "a harder follow-up that tests real understanding") + ".")
        else:
            ask += "Propose an opening question: " + (hint or "a realistic question from a client or student") + "."
        ask += " Reply with the question only."
        return DraftPlan(sess.id, sess.head_id, "user", "proposed", [{"role": "user", "content": ask}],
                         session_params(sess), instructions=[hint] if hint else [],
                         sources=[passage] if passage else [])


class PendingDraft:
    """A draft being written: iterate `stream` for text, `cancel()` to stop, `save()` to store it."""

    def __init__(self, ws: Workspace, plan: DraftPlan, model: StreamingModel):
        self.ws, self.plan, self.model = ws, plan, model
        self.stream: TokenStream = model.stream(plan.conversation, plan.params)

    def cancel(self) -> None:
        self.stream.cancel()

    def save(self, *, author: str | None = None) -> int:
        """Store what was written; a cancelled draft is kept (status cancelled), never accepted.
        A failed generation stores nothing and raises DraftFailed."""
        result = self.stream.wait()
        if result.finish_reason == "error":
            raise DraftFailed(f"the authoring model failed: {result.error}; nothing was stored, try again")
        plan = self.plan
        text = result.text.strip() if plan.role == "user" else result.text
        with self.ws.session() as db:
            sess = get_session(db, plan.session_id)
            cancelled = result.finish_reason == "cancelled"
            turn = add_turn(
                db, sess, parent_id=plan.parent_id, role=plan.role, text=text, origin=plan.origin,
                move_head=not cancelled, status="cancelled" if cancelled else "draft", draft_text=result.text,
                model=self.model.id, params=plan.params.as_dict(), seed=plan.params.seed,
                finish_reason=result.finish_reason, instructions=plan.instructions, sources=plan.sources,
                template=plan.template, based_on_id=plan.based_on_id,
            )
            if cancelled:
                record_event(db, turn, "cancel", author=author or default_author(),
                             note=f"cancelled after {result.completion_tokens} tokens")
            return turn.id


class DraftFailed(ExpertuneError):
    """The model failed to write a draft (e.g. the endpoint kept failing); nothing was stored."""


def start(ws: Workspace, plan: DraftPlan, model: StreamingModel) -> PendingDraft:
    return PendingDraft(ws, plan, model)


def write_drafts(ws: Workspace, plans: list[DraftPlan], model: StreamingModel, *,
                 author: str | None = None) -> Generator[dict[str, Any], None, None]:
    """Write planned drafts one after another for a front end that streams them (the web studio):
    yields {"take": i, "text": piece} as the model writes and {"take": i, "saved": turn_id} once
    the draft is stored.

    Closing the generator early is the browser going away mid-draft: the draft being written is
    cancelled and stored as cancelled, as Ctrl-C in the terminal studio stores it (without this the
    model kept writing for nobody and nothing was stored), and the drafts not started yet are not
    started. The caller must close it (Starlette leaves an abandoned iterator to the garbage collector)."""
    for i, plan in enumerate(plans):
        pending = start(ws, plan, model)
        try:
            for piece in pending.stream:
                yield {"take": i, "text": piece}
        except GeneratorExit:
            pending.cancel()  # the worker stops at the next token
            try:
                pending.save(author=author)
            except DraftFailed:
                pass  # the model failed as the browser left: nothing to store, nobody to tell
            raise
        yield {"take": i, "saved": pending.save(author=author)}


def run(ws: Workspace, plan: DraftPlan, model: StreamingModel, on_text=None) -> int:
    """Write and save one draft without a studio (scripts, tests); `on_text` receives the pieces."""
    pending = start(ws, plan, model)
    for piece in pending.stream:
        if on_text:
            on_text(piece)
    return pending.save()
