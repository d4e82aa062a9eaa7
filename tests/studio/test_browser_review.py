"""Browser tests (real headless Chromium): review, a conflict between two people, checks. They save a
screenshot of every page they visit under tests/studio/screenshots/ (git-ignored)."""

from sqlalchemy import select

from browser_helpers import LiveStudio, browser, new_user, shots  # noqa: F401 (fixtures)
from conftest import chat_record, write_jsonl
from expertune.data.ingest import import_file
from expertune.store import repo
from expertune.store.tables import Response


def sample(ws):
    rows = [chat_record("What is an offer?", "A definite promise to be bound on stated terms.", topic="Contracts"),
            chat_record("What is an offer?", "A proposal showing willingness to be bound if accepted.", topic="Contracts"),
            chat_record("What is an offer?", "Human: offer?\nAssistant: An invitation to treat.", topic="Contracts"),
            chat_record("How do I reach the clerk?", "Write to clerk.jones@example.com.", topic="Procedure"),
            chat_record("What is consideration?", "Something of value given for a promise.", topic="Contracts",
                        system="Answer in one sentence.")]
    assert import_file(ws, write_jsonl(ws.root / "in.jsonl", rows)).committed
    return ws


def test_edit_reject_rate_and_prefer_in_the_browser(ws, browser, shots):
    sample(ws)
    with LiveStudio(ws) as studio:
        page = new_user(browser, studio, "Alice Expert")
        shots(page, "overview")
        page.click("text=Review")
        page.wait_for_selector("table.queue")
        shots(page, "review-list")
        page.click("table.queue >> text=1")
        page.fill("textarea[name=text]", "A definite promise to be bound on the stated terms, once accepted.")
        page.fill("input[name=reason]", "precision")
        page.click("#save-edit")
        page.wait_for_selector("pre.diff .add")
        page.keyboard.press("4")  # shortcut: rate 4
        page.wait_for_selector("button.on[value='4']")
        shots(page, "response")
        page.goto(studio.url + "/responses/3")
        page.click("#reject")
        page.wait_for_selector(".badge.rejected")
        page.click("text=all answers to this prompt")
        page.check("input[name=preferred][value='1']")
        page.click("#save-preferred")
        page.wait_for_selector("input[name=preferred][value='1']:checked")
        shots(page, "group")
    with ws.session() as s:
        r1, r3 = s.get(Response, 1), s.get(Response, 3)
        assert (r1.rating, r1.preferred, r1.text.endswith("once accepted.")) == (4, True, True)
        assert r3.status == "rejected"
        assert {v.author for v in repo.revisions(s, "response", 1)} == {"Alice Expert"}


def test_a_stale_edit_between_two_browsers_is_merged(ws, browser, shots):
    sample(ws)
    with LiveStudio(ws) as studio:
        alice, bob = new_user(browser, studio, "alice"), new_user(browser, studio, "bob")
        for page in (alice, bob):
            page.goto(studio.url + "/responses/2")
        alice.fill("textarea[name=text]", "A proposal showing willingness to be bound, once accepted.")
        alice.click("#save-edit")
        alice.wait_for_selector("pre.diff .add")
        bob.fill("textarea[name=text]", "An offer: a proposal showing willingness to be bound if accepted.")
        bob.click("#save-edit")
        bob.wait_for_selector("#their-diff")
        assert "once accepted" in bob.inner_text("#their-diff") and "alice" in bob.inner_text("main")
        shots(bob, "conflict")
        bob.fill("#merged", "An offer: a proposal showing willingness to be bound, once accepted.")
        bob.click("#save-merge")
        bob.wait_for_selector("text=History")
    with ws.session() as s:
        assert s.get(Response, 2).text == "An offer: a proposal showing willingness to be bound, once accepted."
        assert [v.author for v in repo.revisions(s, "response", 2)] == ["alice", "bob"]


def test_bulk_reject_and_undo(ws, browser, shots):
    sample(ws)
    with LiveStudio(ws) as studio:
        page = new_user(browser, studio, "carol")
        page.goto(studio.url + "/review?topic=Contracts")
        page.check("input[name=sel][value='2']")
        page.check("input[name=sel][value='5']")
        page.click("button[value=reject]")
        page.wait_for_selector("#undo")
        shots(page, "review-bulk-undo")
        with ws.session() as s:
            assert set(s.scalars(select(Response.id).where(Response.status == "rejected"))) == {2, 5}
        page.click("#undo")
        page.wait_for_selector("table.queue")
    with ws.session() as s:
        assert list(s.scalars(select(Response.id).where(Response.status == "rejected"))) == []


def test_fix_a_check_finding_and_allow_another(ws, browser, shots):
    sample(ws)
    with LiveStudio(ws) as studio:
        page = new_user(browser, studio, "dana")
        page.click("text=Checks")
        page.click("#run-checks")
        page.wait_for_selector(".finding")
        shots(page, "checks")
        page.click("text=redact personal data")
        page.wait_for_selector("#apply-fix")
        shots(page, "checks-fix-preview")
        page.click("#apply-fix")
        page.wait_for_selector("#run-checks")
        first = page.locator("form.allow").first
        first.locator("input[name=reason]").fill("accepted as written by the expert")
        first.locator("button").click()
        page.wait_for_selector("text=Allowed by dana")
    with ws.session() as s:
        assert "[EMAIL]" in s.get(Response, 4).text
        assert repo.revisions(s, "response", 4)[0].author == "dana"


def test_login_with_a_token_then_name_yourself(ws, browser, shots):
    sample(ws)
    with LiveStudio(ws, token="correct horse") as studio:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(studio.url + "/review")
        page.wait_for_selector("input[name=token]")  # every page asks for the token first
        page.fill("input[name=token]", "wrong")
        page.click("button[type=submit]")
        page.wait_for_selector("text=That token is not right.")
        shots(page, "login")
        page.fill("input[name=token]", "correct horse")
        page.click("button[type=submit]")
        page.wait_for_selector("h1")
        page.click(".who")
        shots(page, "me")
        page.fill("input[name=name]", "<b>not a name</b>")
        page.click("button[type=submit]")
        page.wait_for_selector(".error")
        shots(page, "error")
        assert "not a name" in page.inner_text(".error")
