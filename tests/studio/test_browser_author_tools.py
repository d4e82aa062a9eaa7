"""Browser test with the builtin model: tick a passage in the documents panel and regenerate with
the keyboard (R), direct that draft (D, type the instruction, Enter), accept the directed take
(2), then write a take with a passage ticked. The instruction shows in the take's provenance and is
not in the accepted training text; the take is grounded in the ticked passage as Regenerate is.
Then Stop, against the scripted slow endpoint: a take stopped mid-draft is shown cancelled, with no
Accept."""

import sys
from pathlib import Path

import pytest
from browser_helpers import LiveStudio, browser, new_user, shots  # noqa: F401 (fixtures)
from conftest import FIXTURES
from sqlalchemy import select

from expertune.author import sessions
from expertune.author.backends import backend_spec
from expertune.author.documents import add_documents
from expertune.store.author_models import AuthorTurn
from expertune.store.tables import Response

sys.path.insert(0, str(Path(__file__).parents[1] / "author"))
from author_helpers import StreamingServer, words  # noqa: E402

pytestmark = pytest.mark.integration

INSTRUCTION = "Answer in at most ten words."
COUNT = " ".join(f"word{i}" for i in range(200))  # 10 s at the pace below: Stop comes mid-draft


def test_regenerate_and_direct_with_the_keyboard(ws, browser, shots):
    add_documents(ws, [FIXTURES / "documents"])
    with LiveStudio(ws) as studio:
        page = new_user(browser, studio, "Dr. Lee")
        page.click("text=Author")
        page.fill("input[name=topic]", "Contracts")
        page.fill("textarea[name=system]", "Answer in one short sentence.")
        page.click("#new-session")
        page.fill("section.card textarea[name=text]", "What is past consideration?")
        page.click("#ask")
        page.wait_for_selector("#documents-panel .passage")
        page.check("#documents-panel .passage input >> nth=0")
        page.keyboard.press("r")
        page.wait_for_selector(".take.streaming .text")  # text arrives while the model writes
        page.wait_for_selector("button.direct-take", timeout=600_000)  # reloaded with the stored draft
        assert "grounded in" in page.inner_text(".take .provenance")
        page.keyboard.press("d")
        page.keyboard.type(INSTRUCTION)  # into the focused direction field, not read as shortcuts
        page.keyboard.press("Enter")
        page.wait_for_selector("li.instruction", timeout=600_000)
        assert page.locator(".take").count() == 2
        assert INSTRUCTION in page.inner_text(".take >> nth=1")
        shots(page, "author-regen-direct")
        page.keyboard.press("2")
        page.wait_for_selector(".take.status-accepted")
        shots(page, "author-directed-accepted")
        page.check("#documents-panel .passage input >> nth=0")
        page.select_option("select[name=n]", "1")
        page.click("#write-takes")
        page.wait_for_selector(".take:not(.streaming) >> nth=2", timeout=600_000)  # reloaded with the stored take
        assert "grounded in" in page.inner_text(".take >> nth=2 >> .provenance")
    with ws.session() as s:
        regen, directed, take = s.scalars(select(AuthorTurn).where(AuthorTurn.role == "assistant")
                                          .order_by(AuthorTurn.id))
        assert (take.origin, take.sources) == ("take", regen.sources)
        assert (regen.origin, len(regen.sources), directed.origin) == ("regen", 1, "directed")
        assert (directed.instructions, directed.based_on_id, directed.status) == ([INSTRUCTION], regen.id, "accepted")
        (response,) = s.scalars(select(Response))
        assert response.text == directed.text and INSTRUCTION not in response.text


def test_stop_keeps_the_take_being_written_as_cancelled(ws, browser, shots):
    with StreamingServer(lambda body: words(COUNT), pause=0.05) as srv, LiveStudio(ws) as studio:
        sid = sessions.create_session(ws, backend=backend_spec("scripted", base_url=srv.base_url), author="Dr. Lee")
        question = sessions.add_user_turn(ws, sid, "Count to two hundred.")
        page = new_user(browser, studio, "Dr. Lee")
        page.goto(f"{studio.url}/author/{sid}")
        assert page.locator("#stop").is_hidden()
        page.select_option("select[name=n]", "2")
        page.click("#write-takes")
        page.wait_for_selector(".take.streaming .text")
        shots(page, "author-streaming-stop")
        page.click("#stop")
        page.wait_for_selector(".take.status-cancelled")  # reloaded with the stopped draft stored
        assert page.locator("#stop").is_hidden() and page.locator(".take").count() == 1
        assert page.locator(".take button.accept-take").count() == 0
        assert "cannot be accepted" in page.inner_text(".take")
        page.keyboard.press("r")  # and with the keyboard: R starts a draft, S stops it
        page.wait_for_selector(".take.streaming .text")
        page.keyboard.press("s")
        page.wait_for_selector(".take.status-cancelled >> nth=1")
        shots(page, "author-stopped")
        assert page.locator(".take").count() == 2 and page.locator(".take button.accept-take").count() == 0
        page.keyboard.press("d")
        page.keyboard.type("Shorter.")
        page.keyboard.press("Enter")  # sent from the direction field: S must still stop, not be typed
        page.wait_for_selector(".take.streaming .text")
        page.keyboard.press("s")
        page.wait_for_selector(".take.status-cancelled >> nth=2")
    assert len(srv.requests) == 3  # the second take of the first Write was never started
    with ws.session() as db:
        drafts = list(db.scalars(select(AuthorTurn).where(AuthorTurn.parent_id == question)))
    assert [(d.status, d.origin) for d in drafts] == [("cancelled", "take"), ("cancelled", "regen"),
                                                      ("cancelled", "directed")]
    assert all(d.text.startswith("word0") and d.text != COUNT for d in drafts)
