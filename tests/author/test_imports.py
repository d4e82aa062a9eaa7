"""Chat exports (ChatGPT, Claude, Open WebUI; fixtures written in their documented shapes) become
authoring sessions with their branches; a malformed conversation is reported with its JSON path
and the rest imported; re-importing is a no-op; imported answers are accepted like drafts.

The parsing itself is author.exports (tested in its own module); these tests need it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

pytest.importorskip("expertune.author.exports")

from expertune.author import dataset, sessions  # noqa: E402
from expertune.author.imports import import_chat_export  # noqa: E402
from expertune.store.author_models import AuthorSession, AuthorTurn  # noqa: E402
from expertune.store.tables import PromptGroup  # noqa: E402

SRC = Path(__file__).resolve().parents[2] / "src"


def gpt_node(node_id, parent, children, role=None, text=None, model=None):
    message = None
    if role:
        message = {"id": node_id, "author": {"role": role, "name": None, "metadata": {}}, "create_time": 1700000000.0,
                   "content": {"content_type": "text", "parts": [text]}, "status": "finished_successfully",
                   "metadata": {"model_slug": model} if model else {}, "recipient": "all"}
    return {"id": node_id, "message": message, "parent": parent, "children": children}


def chatgpt_export(tmp_path):
    good = {"title": "Offers", "create_time": 1700000000.0, "update_time": 1700000100.0, "id": "conv-1",
            "conversation_id": "conv-1", "current_node": "a2",
            "mapping": {
                "root": gpt_node("root", None, ["u1"]),
                "u1": gpt_node("u1", "root", ["a1", "a2"], "user", "What is an offer?"),
                "a1": gpt_node("a1", "u1", [], "assistant", "An offer is a promise to be bound.", "gpt-4o"),
                "a2": gpt_node("a2", "u1", [], "assistant", "A definite proposal to contract on stated terms.", "gpt-4o"),
            }}
    bad = {"title": "Broken", "id": "conv-2", "mapping": "not a tree"}
    path = tmp_path / "chatgpt" / "conversations.json"
    path.parent.mkdir()
    path.write_text(json.dumps([good, bad]))
    return path


def claude_export(tmp_path):
    conv = {"uuid": "c-1", "name": "Consideration", "created_at": "2024-05-01T10:00:00Z", "updated_at": "2024-05-01T10:05:00Z",
            "chat_messages": [
                {"uuid": "m1", "sender": "human", "text": "What is consideration?", "created_at": "2024-05-01T10:00:00Z"},
                {"uuid": "m2", "sender": "assistant", "text": "Something of value exchanged for a promise.",
                 "created_at": "2024-05-01T10:00:05Z"},
            ]}
    path = tmp_path / "claude" / "conversations.json"
    path.parent.mkdir()
    path.write_text(json.dumps([conv]))
    return path


def openwebui_export(tmp_path):
    msgs = {
        "u1": {"id": "u1", "parentId": None, "childrenIds": ["a1", "a2"], "role": "user", "content": "What is estoppel?",
               "timestamp": 1700000000},
        "a1": {"id": "a1", "parentId": "u1", "childrenIds": [], "role": "assistant", "content": "A bar on going back on a promise.",
               "model": "llama3", "timestamp": 1700000001},
        "a2": {"id": "a2", "parentId": "u1", "childrenIds": [], "role": "assistant",
               "content": "Promissory estoppel protects reliance on a promise.", "model": "llama3", "timestamp": 1700000002},
    }
    chat = {"id": "w-1", "title": "Estoppel", "created_at": 1700000000, "updated_at": 1700000002,
            "chat": {"title": "Estoppel", "models": ["llama3"], "history": {"messages": msgs, "currentId": "a1"},
                     "messages": [msgs["u1"], msgs["a1"]]}}
    path = tmp_path / "openwebui.json"
    path.write_text(json.dumps([chat]))
    return path


def session_turns(ws, session_id):
    with ws.session() as db:
        return list(db.scalars(select(AuthorTurn).where(AuthorTurn.session_id == session_id).order_by(AuthorTurn.id)))


def test_chatgpt_export_becomes_a_session_with_its_branch_and_a_reported_bad_conversation(ws, tmp_path):
    path = chatgpt_export(tmp_path)
    report = import_chat_export(ws, path)
    assert report["sessions"] == 1 and report["format"] == "chatgpt"
    assert any("conversations.json: $[1]" in p for p in report["problems"])  # reported, with its JSON path
    [sid] = report["session_ids"]
    turns = session_turns(ws, sid)
    user = next(t for t in turns if t.role == "user")
    answers = [t for t in turns if t.role == "assistant"]
    assert user.text == "What is an offer?" and len(answers) == 2
    assert {a.parent_id for a in answers} == {user.id} and {a.model for a in answers} == {"gpt-4o"}
    with ws.session() as db:
        sess = db.get(AuthorSession, sid)
        assert sess.source == "chatgpt" and sess.title == "Offers"
        assert db.get(AuthorTurn, sess.head_id).text.startswith("A definite proposal")  # the branch the UI showed
    again = import_chat_export(ws, path)
    assert again["sessions"] == 0 and again["skipped"] == 1
    out = dataset.accept(ws, answers[0].id)
    dataset.accept(ws, answers[1].id)
    with ws.session() as db:
        group = db.get(PromptGroup, out["group_id"])
        assert group.prompt == "What is an offer?" and len(group.responses) == 2


@pytest.mark.parametrize("maker,source,n_answers", [(claude_export, "claude", 1), (openwebui_export, "openwebui", 2)])
def test_claude_and_openwebui_exports_become_sessions(ws, tmp_path, maker, source, n_answers):
    report = import_chat_export(ws, maker(tmp_path))
    assert report["sessions"] == 1 and report["format"] == source
    turns = session_turns(ws, report["session_ids"][0])
    assert [t.role for t in turns].count("assistant") == n_answers
    assert all(t.parent_id == turns[0].id for t in turns[1:])


def test_cli_import_and_sessions_list_json(ws, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(SRC)}
    cli = [sys.executable, "-m", "expertune", "-w", str(ws.root), "author"]
    done = subprocess.run([*cli, "import", str(chatgpt_export(tmp_path)), "--json"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    [report] = json.loads(done.stdout)
    assert report["sessions"] == 1 and report["problems"]
    listed = json.loads(subprocess.run([*cli, "sessions", "list", "--json"], env=env, capture_output=True, text=True,
                                       check=True).stdout)
    assert [(s["source"], s["turns"]) for s in listed] == [("chatgpt", 3)]
    unreadable = tmp_path / "broken.json"
    unreadable.write_text("{not json")
    bad = subprocess.run([*cli, "import", str(unreadable)], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "broken.json" in bad.stderr and "Traceback" not in bad.stderr
