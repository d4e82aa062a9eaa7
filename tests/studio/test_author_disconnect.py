"""The browser goes away while the takes stream (tab closed, navigation, network drop): the studio,
served by uvicorn on 127.0.0.1, stops asking the model for tokens, stores the draft being written as
cancelled (as Ctrl-C in the terminal studio does) and does not start the takes still to come.

The browser is a raw HTTP client that reads the first streamed piece and closes its connection; the
model is the scripted OpenAI-compatible endpoint, slow enough that closing comes mid-draft."""

import json
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).parents[1] / "author"))
from author_helpers import StreamingServer, words  # noqa: E402
from browser_helpers import LiveStudio  # noqa: E402

from expertune.author import dataset, sessions  # noqa: E402
from expertune.store.author_models import AuthorEvent, AuthorTurn  # noqa: E402

ANSWER = " ".join(f"word{i}" for i in range(100))
HANG_GUARD = 60  # seconds; only reached when the draft is never stored (the bug), not a timing assertion


def browser(studio: LiveStudio) -> httpx.Client:
    """A client with this studio's CSRF cookie and an author name, as a browser tab has them."""
    c = httpx.Client(base_url=studio.url, timeout=HANG_GUARD)
    c.get("/me")
    c.cookies.set("expertune_user", "lawyer")
    return c


def form(c: httpx.Client, url: str, data: dict) -> httpx.Response:
    return c.post(url, data={**data, "csrf": c.cookies["expertune_csrf"]})


def drafts(ws, question: int) -> list[AuthorTurn]:
    with ws.session() as db:
        return [t for t in db.scalars(select(AuthorTurn).where(AuthorTurn.parent_id == question))]


def test_closing_the_tab_mid_draft_cancels_it_as_ctrl_c_does(ws):
    with StreamingServer(lambda body: words(ANSWER), pause=0.05) as srv, LiveStudio(ws) as studio:
        c = browser(studio)
        sid = int(form(c, "/author/new", {"model": "scripted", "base_url": srv.base_url}).headers["location"]
                  .rsplit("/", 1)[1])
        form(c, f"/author/{sid}/ask", {"text": "Count to a hundred."})
        with ws.session() as db:
            question = sessions.get_session(db, sid).head_id

        tab = httpx.Client(base_url=studio.url, cookies=c.cookies, timeout=HANG_GUARD)
        with tab.stream("POST", f"/author/{sid}/takes", data={"n": 2},
                        headers={"accept": "text/event-stream", "x-csrf-token": c.cookies["expertune_csrf"]}) as r:
            assert r.status_code == 200
            first = json.loads(next(line for line in r.iter_lines() if line.startswith("data: "))[6:])
        tab.close()  # the tab is gone: its connection closes mid-draft
        assert first == {"take": 0, "text": "word0"}

        srv.streams_ended.acquire(timeout=HANG_GUARD)  # the model's stream ended: served whole, or cut
        deadline = time.monotonic() + HANG_GUARD
        while not drafts(ws, question) and time.monotonic() < deadline:  # a wait for the store, not a timing assertion
            time.sleep(0.05)
        page = c.get(f"/author/{sid}").text
        c.close()

    assert srv.disconnects == 1  # the studio closed the model's stream before its end: no more tokens asked
    assert len(srv.requests) == 1  # the second take was never started
    [draft] = drafts(ws, question)
    assert (draft.status, draft.finish_reason) == ("cancelled", "cancelled")
    assert draft.text.startswith("word0") and draft.text != ANSWER
    with ws.session() as db:
        assert sessions.get_session(db, sid).head_id == question  # the conversation does not continue from it
        [event] = db.scalars(select(AuthorEvent).where(AuthorEvent.turn_id == draft.id))
    assert (event.action, event.author) == ("cancel", "lawyer")
    assert dataset.accepted_answers(ws, sid) == []  # /status: a cancelled draft is not one to review
    assert f'id="take-{draft.id}"' in page and ">cancelled</span>" in page
