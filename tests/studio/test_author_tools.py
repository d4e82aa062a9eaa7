"""Author page tools against a scripted OpenAI-compatible streaming endpoint on 127.0.0.1 (the
builtin model runs in the browser test): regenerate grounded in passages ticked in the documents
panel, direct a draft (the instruction reaches the model and the provenance, never the training
text), a structure template guiding drafts and checked on them, and the keyboard shortcuts."""

import json
import sys
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).parents[1] / "author"))
from author_helpers import StreamingServer, last_user, system_text, words  # noqa: E402
from conftest import FIXTURES  # noqa: E402
from studio_helpers import MARKUP, client, post  # noqa: E402

from expertune.author.documents import add_documents  # noqa: E402
from expertune.store.author_models import AuthorSession, AuthorTurn  # noqa: E402
from expertune.store.tables import Response  # noqa: E402

INSTRUCTION = "Shorter: one sentence, cite Re McArdle."


def replies(body) -> list[str]:
    if last_user(body).startswith("Revise your previous answer"):
        return words("Past consideration is no consideration (Re McArdle).")
    return words("Issue: whether past acts count.\nRule: consideration must be given in return.")


def start(c, srv, question="What is past consideration?") -> int:
    r = post(c, "/author/new", {"model": "scripted", "base_url": srv.base_url, "topic": "Contracts"},
             follow_redirects=False)
    sid = int(r.headers["location"].rsplit("/", 1)[1])
    post(c, f"/author/{sid}/ask", {"text": question})
    return sid


def stream(c, url: str, data) -> list[dict]:
    r = c.post(url, data=data, headers={"accept": "text/event-stream", "x-csrf-token": c.cookies.get("expertune_csrf")})
    assert r.status_code == 200, r.text
    return [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith('data: {"take')]


def test_regenerate_with_a_ticked_passage_then_direct_the_draft(ws):
    add_documents(ws, [FIXTURES / "documents"])
    with StreamingServer(replies) as srv:
        c = client(ws, user="lawyer")
        sid = start(c, srv)
        page = c.get(f"/author/{sid}").text
        assert "consideration.txt" in page and 'form="drafts-form"' in page  # passages for the question itself
        events = stream(c, f"/author/{sid}/regen", {"q": "past consideration McArdle", "passage": 0})
        (regen,) = [e["saved"] for e in events if "saved" in e]
        assert "Re McArdle" in system_text(srv.requests[-1])  # the ticked passage reached the model
        events = stream(c, f"/author/turns/{regen}/direct", {"instruction": INSTRUCTION})
        (directed,) = [e["saved"] for e in events if "saved" in e]
        assert INSTRUCTION in last_user(srv.requests[-1])
        page = c.get(f"/author/{sid}").text
        post(c, f"/author/turns/{directed}/accept", {"session_id": sid})
        events = stream(c, f"/author/{sid}/takes", {"n": 1, "q": "past consideration McArdle", "passage": 0})
        (take,) = [e["saved"] for e in events if "saved" in e]
        assert "Lampleigh" in system_text(srv.requests[-1])  # takes are grounded in the ticked passage too
    assert f"directed: “{INSTRUCTION}”" in page and "revises take 1" in page and "grounded in consideration.txt" in page
    with ws.session() as s:
        first, second = s.get(AuthorTurn, regen), s.get(AuthorTurn, directed)
        assert (first.origin, len(first.sources), "McArdle" in first.sources[0]["text"]) == ("regen", 1, True)
        assert (second.origin, second.instructions, second.based_on_id) == ("directed", [INSTRUCTION], regen)
        assert second.parent_id == first.parent_id  # a sibling take of the same question
        assert (s.get(AuthorTurn, take).origin, s.get(AuthorTurn, take).sources) == ("take", first.sources)
        (response,) = s.scalars(select(Response))
    assert response.text == "Past consideration is no consideration (Re McArdle)."  # no instruction in training text


def test_a_template_guides_the_drafts_and_each_take_shows_its_missing_parts(ws):
    with StreamingServer(replies) as srv:
        c = client(ws)
        sid = start(c, srv)
        assert post(c, f"/author/{sid}/template", {"template": "no-such"}).status_code == 404
        post(c, f"/author/{sid}/template", {"template": "irac"})
        post(c, f"/author/{sid}/regen", {})  # without JavaScript: stored, then the page reloads
        assert "Issue" in system_text(srv.requests[-1]) and "Application" in system_text(srv.requests[-1])
        page = c.get(f"/author/{sid}").text
        assert "template irac: missing Application, Conclusion" in page
        post(c, f"/author/{sid}/template", {"template": ""})
    with ws.session() as s:
        assert s.get(AuthorSession, sid).template is None
        (turn,) = s.scalars(select(AuthorTurn).where(AuthorTurn.role == "assistant"))
        assert turn.template == "irac" and "Issue" not in (turn.instructions or [])


def test_bad_directions_are_refused_and_markup_in_them_is_escaped(ws):
    with StreamingServer(replies) as srv:
        c = client(ws)
        sid = start(c, srv)
        post(c, f"/author/{sid}/regen", {})
        with ws.session() as s:
            user_turn, draft = (t.id for t in s.scalars(select(AuthorTurn).order_by(AuthorTurn.id)))
        r = post(c, f"/author/turns/{draft}/direct", {"instruction": "  "})
        assert r.status_code == 400 and "instruction is empty" in r.text
        assert "revises a draft answer" in post(c, f"/author/turns/{user_turn}/direct", {"instruction": "x"}).text
        assert "no longer in the documents panel" in post(c, f"/author/{sid}/regen", {"q": "x", "passage": 3}).text
        assert c.post(f"/author/turns/{draft}/direct", data={"instruction": "x"}).status_code == 403  # no CSRF
        post(c, f"/author/turns/{draft}/direct", {"instruction": MARKUP})
        page = c.get(f"/author/{sid}?q={MARKUP}").text
    assert "<script>alert" not in page and "<img src=x" not in page


def test_keyboard_shortcuts_are_on_the_page(ws):
    with StreamingServer(replies) as srv:
        c = client(ws)
        sid = start(c, srv)
        post(c, f"/author/{sid}/takes", {"n": 2})
        page = c.get(f"/author/{sid}").text
    for key in ("r", "g", "1", "2", "d", "n"):
        assert f'data-key="{key}"' in page, key
    assert page.count('data-key="d"') == 1  # the last take's direction field only
    assert 'data-key="/"' not in page  # no search field without documents
