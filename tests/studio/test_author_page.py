"""Author page against a scripted OpenAI-compatible streaming endpoint on 127.0.0.1 (the stand-in
for a paid API; the builtin model runs in the browser test): a 2-turn conversation, takes streamed
as Server-Sent Events, two takes accepted into one prompt group, an edit in place, escaping."""

import json
import sys
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).parents[1] / "author"))
from author_helpers import StreamingServer, last_user, words  # noqa: E402

from expertune.author import drafting, sessions  # noqa: E402
from expertune.author.backends import backend_spec, open_backend  # noqa: E402
from expertune.store.tables import PromptGroup, Response  # noqa: E402
from studio_helpers import MARKUP, client, post  # noqa: E402


def numbered_replies():
    """Each request gets a different answer (take 1, take 2, ...), as sampled drafts would."""
    count = iter(range(1, 100))
    return lambda body: words(f"Answer {next(count)} to: {last_user(body)}")


def test_two_turns_streamed_takes_accepted_and_edited(ws):
    with StreamingServer(numbered_replies()) as srv:
        c = client(ws, user="lawyer")
        r = post(c, "/author/new", {"model": "scripted", "base_url": srv.base_url, "topic": "Contracts"},
                 follow_redirects=False)
        sid = int(r.headers["location"].rsplit("/", 1)[1])
        post(c, f"/author/{sid}/ask", {"text": "What is an offer?"})
        stream = c.post(f"/author/{sid}/takes", data={"n": 2}, headers={
            "accept": "text/event-stream", "x-csrf-token": c.cookies.get("expertune_csrf")})
        events = [json.loads(line[6:]) for line in stream.text.splitlines() if line.startswith("data: {\"take")]
        text0 = "".join(e.get("text", "") for e in events if e["take"] == 0)
        assert text0 == "Answer 1 to: What is an offer?" and sum("saved" in e for e in events) == 2
        takes = [e["saved"] for e in events if "saved" in e]
        for tid in takes:
            post(c, f"/author/turns/{tid}/accept", {"session_id": sid})
        post(c, f"/author/turns/{takes[1]}/edit", {"session_id": sid, "text": "An offer is a definite promise."})
        post(c, f"/author/{sid}/ask", {"text": "And acceptance?", "after": takes[0]})
        post(c, f"/author/{sid}/takes", {"n": 1})  # without JavaScript: stored, then the page reloads
        page = c.get(f"/author/{sid}").text
    assert "Answer 3 to: And acceptance?" in page and "What is an offer?" in page
    with ws.session() as s:
        groups = list(s.scalars(select(PromptGroup)))
        assert [g.prompt for g in groups] == ["What is an offer?"]
        answers = sorted(r.text for r in s.scalars(select(Response).where(Response.group_id == groups[0].id)))
    assert answers == ["An offer is a definite promise.", "Answer 1 to: What is an offer?"]


def test_markup_in_session_fields_is_escaped(ws):
    with StreamingServer(lambda body: words(MARKUP)) as srv:
        c = client(ws)
        r = post(c, "/author/new", {"model": "scripted", "base_url": srv.base_url, "topic": MARKUP, "system": MARKUP},
                 follow_redirects=False)
        sid = int(r.headers["location"].rsplit("/", 1)[1])
        post(c, f"/author/{sid}/ask", {"text": MARKUP})
        post(c, f"/author/{sid}/takes", {"n": 1})
        for url in ("/author", f"/author/{sid}"):
            page = c.get(url).text
            assert "<script>alert" not in page and "<img src=x" not in page


def test_takes_without_a_question_or_too_many_are_refused(ws):
    c = client(ws)
    r = post(c, "/author/new", {"model": "builtin:smollm2-135m-instruct"}, follow_redirects=False)
    sid = int(r.headers["location"].rsplit("/", 1)[1])
    assert "type a question first" in post(c, f"/author/{sid}/takes", {"n": 1}).text
    assert post(c, f"/author/{sid}/takes", {"n": 9}).status_code == 400


def test_a_cancelled_take_is_shown_cancelled_without_accept(ws):
    with StreamingServer(lambda body: words("one two three four five six")) as srv:
        spec = backend_spec("scripted", base_url=srv.base_url)
        sid = sessions.create_session(ws, backend=spec, author="lawyer")
        question = sessions.add_user_turn(ws, sid, "Count.")
        model = open_backend(spec)
        finished = drafting.run(ws, drafting.plan_drafts(ws, question)[0], model)
        srv.pause = 0.2  # slow enough to cancel after the first piece
        pending = drafting.start(ws, drafting.plan_drafts(ws, question)[0], model)
        for _ in pending.stream:
            pending.cancel()
        cancelled = pending.save()
    page = client(ws).get(f"/author/{sid}").text
    assert f'id="take-{cancelled}"' in page and '<span class="badge cancelled">cancelled</span>' in page
    assert f"/author/turns/{finished}/accept" in page and f"/author/turns/{cancelled}/accept" not in page
    assert "cannot be accepted" in page
