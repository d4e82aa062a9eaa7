"""The terminal studio: `expertune author`, a keyboard-driven REPL over the authoring engine.

Typing a line adds a user turn and writes the session's k drafts for it, streamed token by
token. Slash commands direct the session (see HELP). Every action is one store transaction, so
everything is saved as it happens; Ctrl-C while a draft streams cancels that draft (kept as
cancelled), not the session; Ctrl-C at the prompt clears the line; Ctrl-D or /quit leaves.

The drafts of the current prompt are numbered 1..n in the order they were written: /accept 1,3
and /reject 2 use those numbers. Model text and user text are printed as plain text (no markup).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, TextIO

from expertune.author import dataset, drafting, sessions
from expertune.author.backends import open_backend
from expertune.errors import ExpertuneError, InputError
from expertune.store.author_models import AuthorTurn
from expertune.workspace import Workspace

HELP = """\
  <text>            a user turn; the model writes the drafts for it
  /regen            another draft for the current prompt
  /takes N          N more answers that differ from the accepted ones
  /direct "..."     revise the current draft following an instruction (kept in provenance only)
  /edit [N]         edit the current turn (or draft N) in $EDITOR
  /accept 1,3       accept drafts 1 and 3 of the current prompt into the dataset
  /reject [N]       reject the current draft (or draft N)   /unaccept N   take an accepted one back
  /propose [hint]   the model proposes the next question    /propose @N   ...from passage N
  /branch [ID]      list the alternatives here, or continue from turn ID
  /back             step back one turn (then type or /regen to branch)
  /docs QUERY       passages from your documents            /attach 1,2   ground the next drafts in them
  /template NAME    guide drafts by a structure template (and check the current draft)
  /status           accepted answers per prompt             /show   the current branch
  /quit             leave (everything is already saved)"""


class Studio:
    def __init__(self, ws: Workspace, session_id: int, *, drafts: int = 1, out: TextIO | None = None):
        self.ws = ws
        self.session_id = session_id
        self.k = drafts
        self.out = out or sys.stdout
        self.passages: list[dict[str, Any]] = []  # the last /docs results
        self.attached: list[dict[str, Any]] = []  # passages the next drafts are grounded in
        self._model = None

    # -- output ---------------------------------------------------------------------------------
    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def model(self):
        if self._model is None:
            with self.ws.session() as db:
                spec = sessions.get_session(db, self.session_id).backend
            self.say(f"(authoring model: {spec.get('model')})")
            self._model = open_backend(spec)
        return self._model

    # -- where we are ------------------------------------------------------------------------------
    def head(self) -> AuthorTurn | None:
        with self.ws.session() as db:
            sess = sessions.get_session(db, self.session_id)
            return sessions.get_turn(db, sess.head_id) if sess.head_id is not None else None

    def prompt_turn(self) -> AuthorTurn:
        """The user turn whose drafts are current: the head, or the head's parent."""
        head = self.head()
        with self.ws.session() as db:
            while head is not None and head.role != "user":
                head = sessions.get_turn(db, head.parent_id) if head.parent_id is not None else None
        if head is None:
            raise InputError("no prompt yet: type a question first")
        return head

    def drafts(self) -> list[AuthorTurn]:
        u = self.prompt_turn()
        with self.ws.session() as db:
            return [t for t in sessions.children(db, self.session_id, u.id) if t.role == "assistant"]

    def draft_by_number(self, n: int) -> AuthorTurn:
        drafts = self.drafts()
        if not 1 <= n <= len(drafts):
            raise InputError(f"draft {n}: this prompt has drafts 1..{len(drafts)}")
        return drafts[n - 1]

    def current_draft(self) -> AuthorTurn:
        head = self.head()
        if head is not None and head.role == "assistant":
            return head
        drafts = [d for d in self.drafts() if d.status != "cancelled"]
        if not drafts:
            raise InputError("no draft yet for this prompt: /regen writes one")
        return drafts[-1]

    # -- writing ---------------------------------------------------------------------------------
    def write(self, plan: drafting.DraftPlan) -> int:
        """Stream one draft to the screen; Ctrl-C cancels it. Returns the saved turn id."""
        model = self.model()
        label = "question" if plan.role == "user" else f"draft (T={plan.params.temperature}, seed {plan.params.seed})"
        self.say(f"--- {label}")
        pending = drafting.start(self.ws, plan, model)
        try:
            for piece in pending.stream:
                self.out.write(piece)
                self.out.flush()
        except KeyboardInterrupt:
            pending.cancel()
            for _ in pending.stream:  # let the worker stop at the next token
                pass
        turn_id = pending.save()
        with self.ws.session() as db:
            turn = sessions.get_turn(db, turn_id)
        number = ""
        if turn.role == "assistant":
            number = f"draft {[d.id for d in self.drafts()].index(turn_id) + 1} · "
        self.say(f"\n[{number}turn {turn_id} · {turn.finish_reason}]")
        return turn_id

    def write_drafts(self, plans: list[drafting.DraftPlan]) -> None:
        for plan in plans:
            self.write(plan)

    # -- commands ----------------------------------------------------------------------------------
    def user_turn(self, text: str) -> None:
        head = self.head()
        parent = head.id if head is not None else None
        if head is not None and head.role == "user":  # a second question in a row replaces the unanswered one as a branch
            parent = head.parent_id
        u = sessions.add_user_turn(self.ws, self.session_id, text, parent_id=parent)
        self.write_drafts(drafting.plan_drafts(self.ws, u, n=self.k, sources=self.attached))

    def cmd_regen(self, arg: str) -> None:
        self.write_drafts(drafting.plan_drafts(self.ws, self.prompt_turn().id, origin="regen", sources=self.attached))

    def cmd_takes(self, arg: str) -> None:
        n = int(arg) if arg.strip().isdigit() else 1
        self.write_drafts(drafting.plan_takes(self.ws, self.prompt_turn().id, n, sources=self.attached))

    def cmd_direct(self, arg: str) -> None:
        instruction = " ".join(shlex.split(arg)) if arg.strip() else ""
        self.write(drafting.plan_direct(self.ws, self.current_draft().id, instruction))

    def cmd_edit(self, arg: str) -> None:
        turn = self.draft_by_number(int(arg)) if arg.strip().isdigit() else self.head()
        if turn is None:
            raise InputError("nothing to edit yet")
        text = edit_in_editor(turn.text)
        if text is None or text.strip() == turn.text.strip():
            self.say("(unchanged)")
            return
        res = sessions.edit_turn(self.ws, turn.id, text)
        self.say(f"[edited turn {turn.id}" + (f" as new branch turn {res.turn_id}]" if res.branched else "]"))

    def cmd_accept(self, arg: str) -> None:
        targets = [self.draft_by_number(n) for n in numbers(arg)] if arg.strip() else [self.current_draft()]
        for t in targets:
            out = dataset.accept(self.ws, t.id)
            self.say(f"[accepted turn {t.id} → group {out['group_id']}, response {out['response_id']}]")
        self.say(f"({sum(d.status == 'accepted' for d in self.drafts())} accepted for this prompt)")

    def cmd_reject(self, arg: str) -> None:
        targets = [self.draft_by_number(n) for n in numbers(arg)] if arg.strip() else [self.current_draft()]
        for t in targets:
            dataset.reject(self.ws, t.id)
            self.say(f"[rejected turn {t.id}]")

    def cmd_unaccept(self, arg: str) -> None:
        for n in numbers(arg):
            t = self.draft_by_number(n)
            dataset.unaccept(self.ws, t.id)
            self.say(f"[un-accepted turn {t.id}]")

    def cmd_propose(self, arg: str) -> None:
        arg = arg.strip()
        passage = None
        if arg.startswith("@") and arg[1:].isdigit():
            idx = int(arg[1:])
            if not 1 <= idx <= len(self.passages):
                raise InputError(f"passage {idx}: /docs QUERY lists passages first")
            passage, arg = self.passages[idx - 1], ""
        self.write(drafting.plan_question(self.ws, self.session_id, hint=arg or None, passage=passage))
        self.say("(the proposed question is the current turn: /regen answers it, /edit changes it)")

    def cmd_branch(self, arg: str) -> None:
        if arg.strip().isdigit():
            sessions.set_head(self.ws, self.session_id, int(arg))
            self.cmd_show("")
            return
        head = self.head()
        with self.ws.session() as db:
            siblings = sessions.children(db, self.session_id, head.parent_id if head else None)
        for t in siblings:
            mark = "*" if head and t.id == head.id else " "
            self.say(f"{mark} turn {t.id} [{t.role}, {t.status}] {preview(t.text)}")

    def cmd_back(self, arg: str) -> None:
        head = sessions.back(self.ws, self.session_id)
        self.say(f"[head is now turn {head}]" if head is not None else "[at the start of the session]")

    def cmd_show(self, arg: str) -> None:
        head = self.head()
        with self.ws.session() as db:
            path = sessions.path_to(db, head.id if head else None)
        for t in path:
            self.say(f"turn {t.id} {t.role} [{t.status}]: {t.text}")

    def cmd_status(self, arg: str) -> None:
        rows = dataset.accepted_answers(self.ws, self.session_id)
        for row in rows:
            self.say(f"turn {row['user_turn_id']}: {len(row['accepted'])} accepted of {row['drafts']} drafts · "
                     f"{preview(row['prompt'])}")
        with_answers = sum(bool(r["accepted"]) for r in rows)
        self.say(f"({sum(len(r['accepted']) for r in rows)} accepted answers for {with_answers} prompts)")

    def cmd_docs(self, arg: str) -> None:
        from expertune.author.documents import passage_dict, search_passages

        query = arg.strip() or self.prompt_turn().text
        self.passages = [passage_dict(p) for p in search_passages(self.ws, query, k=5)]
        if not self.passages:
            self.say("(no passages; `expertune docs add PATH...` indexes your documents)")
        for i, p in enumerate(self.passages, 1):
            self.say(f"[{i}] {p['path']}#{p['chunk']} ({p['score']:.2f}) {preview(p['text'], 200)}")

    def cmd_attach(self, arg: str) -> None:
        self.attached = [self.passages[n - 1] for n in numbers(arg) if 1 <= n <= len(self.passages)]
        self.say(f"[{len(self.attached)} passages attached to the next drafts]")

    def cmd_template(self, arg: str) -> None:
        from expertune.author.templates import check_structure, load_templates

        templates = load_templates(self.ws)
        name = arg.strip()
        if not name:
            self.say("templates: " + ", ".join(sorted(templates)))
            return
        if name not in templates:
            raise InputError(f"template {name!r} does not exist; known: {', '.join(sorted(templates))}")
        sessions.set_template(self.ws, self.session_id, name)
        self.say(f"[drafts now follow {name}]")
        try:
            draft = self.current_draft()
        except InputError:
            return
        report = check_structure(templates[name], draft.text)
        self.say(f"current draft: present {', '.join(report.present) or '-'}; missing {', '.join(report.missing) or '-'}")

    def cmd_help(self, arg: str) -> None:
        self.say(HELP)

    # -- dispatch ----------------------------------------------------------------------------------
    def handle(self, line: str) -> bool:
        """Run one input line; False means quit."""
        line = line.strip()
        if not line:
            return True
        if not line.startswith("/"):
            self.user_turn(line)
            return True
        name, _, arg = line[1:].partition(" ")
        if name in ("quit", "exit", "q"):
            return False
        handler: Callable[[str], None] | None = getattr(self, "cmd_" + name, None)
        if handler is None:
            raise InputError(f"unknown command /{name}; /help lists the commands")
        handler(arg)
        return True


def numbers(arg: str) -> list[int]:
    try:
        return [int(x) for x in arg.replace(" ", ",").split(",") if x]
    except ValueError:
        raise InputError(f"{arg!r}: expected draft numbers, e.g. 1,3") from None


def preview(text: str, width: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def edit_in_editor(text: str) -> str | None:
    """The text after the expert edits it in $VISUAL / $EDITOR (None when the editor failed)."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write(text)
        path = Path(f.name)
    try:
        if subprocess.run([*shlex.split(editor), str(path)]).returncode != 0:
            return None
        return path.read_text(encoding="utf-8").rstrip("\n")
    finally:
        path.unlink(missing_ok=True)


def run_repl(studio: Studio) -> None:
    """Read lines with prompt_toolkit until /quit or Ctrl-D; errors are printed, not fatal."""
    import signal

    from prompt_toolkit import PromptSession

    # Ctrl-C must cancel a streaming draft even when this process was started with SIGINT ignored
    # (a background job of a non-interactive shell, some IDE runners): Python then installs no
    # KeyboardInterrupt handler of its own.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    prompt = PromptSession()
    studio.say(f"authoring session {studio.session_id} · /help lists the commands")
    studio.cmd_show("")
    while True:
        try:
            line = prompt.prompt("you> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        try:
            if not studio.handle(line):
                break
        except ExpertuneError as err:
            studio.say(f"error: {err}")
    studio.say(f"[session {studio.session_id} saved]")
