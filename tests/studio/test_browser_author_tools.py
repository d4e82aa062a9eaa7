"""Browser test with the builtin model: tick a passage in the documents panel and regenerate with
the keyboard (R), direct that draft (D, type the instruction, Enter), accept the directed take
(2), then write a take with a passage ticked. The instruction shows in the take's provenance and is
not in the accepted training text; the take is grounded in the ticked passage as Regenerate is."""

import pytest
from browser_helpers import LiveStudio, browser, new_user, shots  # noqa: F401 (fixtures)
from conftest import FIXTURES
from sqlalchemy import select

from expertune.author.documents import add_documents
from expertune.store.author_models import AuthorTurn
from expertune.store.tables import Response

pytestmark = pytest.mark.integration

INSTRUCTION = "Answer in at most ten words."


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
