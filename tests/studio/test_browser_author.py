"""Browser test with the builtin model: author a 2-turn conversation, watch the takes stream side by
side, accept 2 takes."""

import pytest
from sqlalchemy import select

from browser_helpers import LiveStudio, browser, new_user, shots  # noqa: F401 (fixtures)
from expertune.store.tables import PromptGroup, Response

pytestmark = pytest.mark.integration


def test_author_two_turns_and_accept_two_takes(ws, browser, shots):
    with LiveStudio(ws) as studio:
        page = new_user(browser, studio, "Dr. Lee")
        page.click("text=Author")
        page.fill("input[name=topic]", "Contracts")
        page.fill("textarea[name=system]", "Answer in one short sentence.")
        shots(page, "author-home")
        page.click("#new-session")
        page.fill("textarea[name=text]", "What is an offer in contract law?")
        page.click("#ask")
        page.select_option("select[name=n]", "2")
        page.click("#write-takes")
        page.wait_for_selector(".take.streaming .text")  # text arrives while the model writes
        page.wait_for_selector("button.accept-take", timeout=600_000)  # reloaded with the stored takes
        shots(page, "author-takes")
        assert page.locator(".take").count() == 2
        page.locator("button.accept-take").first.click()
        page.wait_for_selector(".take.status-accepted")
        page.locator("button.accept-take").first.click()
        page.wait_for_selector(".take.status-accepted >> nth=1")
        page.fill("section.card textarea[name=text]", "And what makes an acceptance valid?")
        page.click("#ask")
        page.select_option("select[name=n]", "1")
        page.click("#write-takes")
        page.wait_for_selector("button.accept-take", timeout=600_000)
        shots(page, "author-second-turn")
        assert "And what makes an acceptance valid?" in page.inner_text(".conversation")
    with ws.session() as s:
        (group,) = s.scalars(select(PromptGroup))
        assert group.prompt == "What is an offer in contract law?"
        assert len(list(s.scalars(select(Response).where(Response.group_id == group.id)))) == 2
