"""The terminal studio driven through a real pseudo-terminal (pexpect): a whole session - 3 turns,
a regenerate, a directed revision, an edit in $EDITOR, 2 takes accepted for one prompt - then the
store is checked (groups with earlier turns as context, responses, provenance, revisions).

On the builtin model the accepted data is then split and trained with `cpu-quick`; against a
scripted OpenAI-compatible streaming server on 127.0.0.1 the same session also meets one HTTP
429 and one Ctrl-C that cancels a draft mid-stream but not the session."""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
from author_helpers import StreamingServer, last_user, words
from conftest import QUICK
from sqlalchemy import select

from expertune.store.author_models import AuthorEvent, AuthorSession, AuthorTurn
from expertune.store.tables import PromptGroup, Provenance, Response

SRC = Path(__file__).resolve().parents[2] / "src"
SAVED = re.compile(r"\[draft (\d+) · turn (\d+) · (\w+)\]")
EDITED = "An offer may be revoked before acceptance. (edited by the expert)"


def ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def spawn(ws, *args, timeout=180, preexec_fn=None):
    editor = ws.root.parent / "editor.py"
    editor.write_text(f"import sys\nopen(sys.argv[1], 'w').write({EDITED!r})\n")
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "EDITOR": f"{sys.executable} {editor}", "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1",
           "COLUMNS": "200", "LINES": "50"}
    return pexpect.spawn(sys.executable, ["-m", "expertune", "-w", str(ws.root), "author", *args], env=env,
                         encoding="utf-8", timeout=timeout, dimensions=(50, 200), preexec_fn=preexec_fn)


def prompt(child):
    child.expect("you>")


def say(child, line):
    child.sendline(line)


def saved(child):
    child.expect(SAVED)
    return int(child.match.group(1)), int(child.match.group(2)), child.match.group(3)


def drive(child, *, cancel=None):
    """The session of the issue's done-when. `cancel(child)` (optional) runs after the regenerate:
    it starts a draft and cancels it with Ctrl-C."""
    prompt(child)
    say(child, "What is an offer?")
    assert saved(child)[0] == 1
    prompt(child)
    say(child, "/accept 1")
    child.expect(r"\(1 accepted for this prompt\)")
    prompt(child)
    say(child, "Can an offer be revoked?")
    saved(child)
    prompt(child)
    say(child, "/regen")
    assert saved(child)[0] == 2
    if cancel:
        cancel(child)
    prompt(child)
    say(child, '/direct "shorter, one sentence"')
    n_directed, directed, _ = saved(child)
    prompt(child)
    say(child, f"/edit {n_directed}")
    child.expect(rf"\[edited turn {directed}\]")
    prompt(child)
    say(child, "/takes 1")
    n_take, take, _ = saved(child)
    prompt(child)
    say(child, f"/accept {n_directed},{n_take}")
    child.expect(r"\(2 accepted for this prompt\)")
    prompt(child)
    say(child, "What remedies does the offeree have?")
    saved(child)
    prompt(child)
    say(child, "/accept")
    child.expect(r"\(1 accepted for this prompt\)")
    prompt(child)
    say(child, "/status")
    child.expect(r"\(4 accepted answers for 3 prompts\)")
    prompt(child)
    say(child, "/quit")
    child.expect(r"\[session \d+ saved\]")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    return directed, take


def check_store(ws, directed, take):
    with ws.session() as db:
        sess = db.scalars(select(AuthorSession)).one()
        groups = db.scalars(select(PromptGroup).order_by(PromptGroup.id)).all()
        assert [g.prompt for g in groups] == ["What is an offer?", "Can an offer be revoked?",
                                              "What remedies does the offeree have?"]
        first, second, third = groups
        assert first.context == [] and first.system == "You are a contract-law tutor."
        a1 = first.responses[0].text
        assert second.context == [{"role": "user", "content": "What is an offer?"}, {"role": "assistant", "content": a1}]
        take_text = db.get(AuthorTurn, take).text
        assert third.context == second.context + [{"role": "user", "content": "Can an offer be revoked?"},
                                                  {"role": "assistant", "content": take_text}]
        texts = sorted(r.text for r in second.responses)
        assert texts == sorted([EDITED, take_text]) and {r.status for r in second.responses} == {"accepted"}
        assert db.scalar(select(Response).where(Response.status == "accepted").with_only_columns(Response.id).limit(1))
        assert len(db.scalars(select(Response)).all()) == 4
        for r in db.scalars(select(Response)):
            prov = db.scalars(select(Provenance).where(Provenance.response_id == r.id)).one()
            assert prov.session_id == sess.id
            assert db.get(AuthorTurn, r.meta["author_turn"]).response_id == r.id
        d = db.get(AuthorTurn, directed)
        assert d.instructions == ["shorter, one sentence"] and d.origin == "directed" and d.text == EDITED
        assert "shorter" not in json.dumps([g.context for g in groups]) + " ".join(r.text for r in db.scalars(select(Response)))
        edit = db.scalars(select(AuthorEvent).where(AuthorEvent.turn_id == directed, AuthorEvent.action == "edit")).one()
        assert f"+{EDITED}" in edit.diff and edit.before == d.draft_text
        regen = [t for t in db.scalars(select(AuthorTurn)) if t.origin == "regen"]
        assert len(regen) == 1 and regen[0].seed is not None and regen[0].params["temperature"] > 0
    return sess.id


@pytest.mark.integration
@pytest.mark.slow  # ~80 s in the suite; the session drives a real terminal, then trains
def test_pty_session_on_builtin_model_then_trains(ws, tmp_path):
    child = spawn(ws, "--topic", "Contracts", "--system", "You are a contract-law tutor.", "--max-tokens", "24",
                  timeout=300)
    directed, take = drive(child)
    sid = check_store(ws, directed, take)
    cli = [sys.executable, "-m", "expertune", "-w", str(ws.root)]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    exported = subprocess.run([*cli, "author", "sessions", "export", str(sid)], env=env, capture_output=True, text=True)
    assert exported.returncode == 0, exported.stderr
    assert len(json.loads(exported.stdout)["turns"]) == 9  # 3 questions, 6 drafts (draft, regen, directed, take...)
    subprocess.run([*cli, "split", "--val", "0", "--test", "0"], env=env, check=True, capture_output=True)
    overrides = [a for o in QUICK for a in ("--set", o)]
    trained = subprocess.run([*cli, "train", "cpu-quick", *overrides, "--set", "max_steps=2", "--set", "max_length=384",
                              "--json"], env=env,
                             capture_output=True, text=True)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert json.loads(trained.stdout)["adapter"]


class Endpoint:
    """Scripted replies; the 4th request is answered 429 once; answers to "/regen" stream slowly
    enough for a Ctrl-C."""

    def __init__(self):
        self.n = 0
        self.failed = False

    def __call__(self, body):
        self.n += 1
        user = last_user(body)
        if self.n == 4 and not self.failed:
            self.failed = True
            return 429, {"retry-after": "0"}, b'{"error": {"message": "rate limited"}}'
        if user.startswith("Revise your previous answer"):
            return words("An offer may be revoked before acceptance.")
        if user == "Count slowly.":
            return words("one two three four five six seven eight nine ten " * 5)
        return words(f"Answer {self.n}: {user}")


def test_pty_session_against_http_endpoint_with_429_and_cancel(ws):
    script = Endpoint()
    with StreamingServer(script, pause=0.0) as srv:

        def cancel(child):
            srv.pause = 0.3
            prompt(child)
            say(child, "Count slowly.")
            child.expect("one two")
            child.sendintr()  # Ctrl-C while streaming
            number, turn_id, reason = saved(child)
            assert reason == "cancelled"
            srv.pause = 0.0
            prompt(child)
            say(child, "/back")  # from the cancelled draft's question back to the regenerated draft
            child.expect(r"head is now turn")
            prompt(child)
            say(child, "/branch 0")  # not a turn: an error, the session goes on
            child.expect("error: turn 0 does not exist")
            cancel.turn = turn_id

        # Started with SIGINT ignored, as a background job of a non-interactive shell (a CI runner) is:
        # Ctrl-C must still cancel the draft.
        child = spawn(ws, "--model", "scripted", "--base-url", srv.base_url, "--topic", "Contracts",
                      "--system", "You are a contract-law tutor.", timeout=60, preexec_fn=ignore_sigint)
        drive(child, cancel=cancel)
        assert srv.statuses.count(429) == 1 and srv.disconnects == 1
    with ws.session() as db:
        c = db.get(AuthorTurn, cancel.turn)
        assert c.status == "cancelled" and c.finish_reason == "cancelled" and c.text.startswith("one two")
        assert len(c.text.split()) < 50  # stopped mid-stream
