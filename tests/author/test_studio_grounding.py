"""The studio's grounding and structure commands (/docs, /attach, /propose @N, /template) over
the documents index and structure templates, with a scripted streaming endpoint on 127.0.0.1;
and a studio killed mid-draft loses only that draft."""

import io
import os
import signal
import time

import pexpect
import pytest
from author_helpers import StreamingServer, system_text, last_user, words
from sqlalchemy import select

from expertune.author import sessions
from expertune.author.backends import backend_spec
from expertune.store.author_models import AuthorTurn


def test_docs_attach_and_template_guide_the_model_and_are_recorded(ws, tmp_path):
    pytest.importorskip("expertune.author.documents")
    pytest.importorskip("expertune.author.templates")
    from expertune.author.documents import add_documents
    from expertune.author.terminal import Studio

    doc = tmp_path / "notes.md"
    doc.write_text("# Revocation\n\nAn offer may be revoked at any time before acceptance, "
                   "as held in Payne v Cave (1789).\n\n# Postal rule\n\nAcceptance by post is complete on posting.\n")
    add_documents(ws, [doc])

    def reply(body):
        if "Propose one question" in last_user(body):
            return words("When can an offer be revoked?")
        return words("Issue: revocation.\nRule: before acceptance.\nApplication: here.\nConclusion: yes.")

    with StreamingServer(reply) as srv:
        sid = sessions.create_session(ws, backend=backend_spec("m", base_url=srv.base_url), system="Be precise.")
        out = io.StringIO()
        studio = Studio(ws, sid, out=out)
        studio.handle("/docs revoked before acceptance")
        assert "[1]" in out.getvalue() and "notes.md" in out.getvalue()
        studio.handle("/propose @1")
        studio.handle("/attach 1")
        studio.handle("/template irac")
        studio.handle("/regen")
        guided = srv.requests[-1]
        studio.handle("/takes 1")
        taken = srv.requests[-1]
        studio.handle("/template irac")
    assert "Payne v Cave" in system_text(guided) and "Be precise." in system_text(guided)
    assert "Issue" in system_text(guided) and "Conclusion" in system_text(guided)
    assert "Payne v Cave" in system_text(taken)  # takes are grounded in the attached passages too
    assert "present Issue, Rule, Application, Conclusion" in out.getvalue()
    with ws.session() as db:
        turns = db.scalars(select(AuthorTurn).where(AuthorTurn.session_id == sid).order_by(AuthorTurn.id)).all()
        question, answer, take = turns
        assert question.role == "user" and question.text == "When can an offer be revoked?"
        assert "Payne v Cave" in question.sources[0]["text"]
        assert answer.template == "irac" and "Payne v Cave" in answer.sources[0]["text"]
        assert take.origin == "take" and take.sources == answer.sources
        # guidance and passages are provenance, not training text
        assert "Payne" not in answer.text and "Be precise" not in answer.text


def test_a_killed_studio_loses_only_the_draft_in_flight(ws):
    from test_terminal import prompt, say, spawn

    with StreamingServer(lambda body: words("one two three four five six seven eight nine ten"), pause=0.5) as srv:
        child = spawn(ws, "--model", "m", "--base-url", srv.base_url, timeout=60)
        prompt(child)
        say(child, "Count to ten.")
        child.expect("one two")
        os.kill(child.pid, signal.SIGKILL)
        child.expect(pexpect.EOF)
        child.close()
        with ws.session() as db:
            turns = db.scalars(select(AuthorTurn)).all()
            assert [(t.role, t.text) for t in turns] == [("user", "Count to ten.")]
            sid = turns[0].session_id
        srv.pause = 0.0
        again = spawn(ws, "--session", str(sid), timeout=60)
        again.expect("Count to ten.")  # the session resumes at the saved question
        prompt(again)
        say(again, "/regen")
        again.expect(r"\[draft 1 · turn \d+ · stop\]")
        prompt(again)
        say(again, "/quit")
        again.expect(pexpect.EOF)
