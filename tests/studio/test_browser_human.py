"""Browser test with the builtin model: run a tiny evaluation from the studio (base vs a tiny
adapter, a human judge only), then make 4 blind judgments on the review page with the keyboard
(A, T, B, and A after scoring a criterion and writing a note). The page never shows a candidate
or run name; the verdicts are stored as the user's human judgments."""

import pytest
from adapter_helpers import BUILTIN
from browser_helpers import LiveStudio, browser, new_user, run_evaluation, shots, tiny_eval_workspace  # noqa: F401

from expertune.evaluate.pairwise.human import start_human_session

pytestmark = pytest.mark.integration

# Candidate and run names found nowhere else in the studio: seeing one on the review page is a leak.
HIDDEN = ("plainbaseline", "tunedcandidate", "tuned-should-win")
CONFIG = f"""name: {HIDDEN[2]}
candidates:
  - {{name: {HIDDEN[0]}, model: "{BUILTIN}"}}
  - {{name: {HIDDEN[1]}, adapter: tiny@current}}
prompts:
  - {{split: test, limit: 3}}
grid: {{temperatures: [0.7, 1.0], max_new_tokens: [12], seeds: [0]}}
judges:
  - {{name: expert, type: human}}
bootstrap: 100
"""


def test_four_blind_judgments_with_the_keyboard(ws, tmp_path, browser, shots):
    tiny_eval_workspace(ws, tmp_path)
    with LiveStudio(ws) as studio:
        page = new_user(browser, studio, "Dr. Lee")
        run_evaluation(page, CONFIG)
        page.click("#blind-review")
        page.wait_for_selector("#judge-form")
        total = int(page.inner_text("#progress").split(" of ")[1].split()[0])
        assert total >= 4, page.inner_text("main")
        for done, key in enumerate("atb"):
            assert f"{done} of {total}" in page.inner_text("#progress")
            assert page.inner_text("#answers h2 >> nth=0") == "Answer A"
            for name in HIDDEN:
                assert name not in page.content().lower()
            if done == 1:
                shots(page, "evaluate-human")
            with page.expect_navigation():
                page.keyboard.press(key)
        page.click("#scores summary")
        page.select_option("select[name='score:A:Depth']", "4")
        page.locator("textarea[name=note]").press_sequentially("a better tone")  # keys typed here are not shortcuts
        page.click("#question")
        with page.expect_navigation():
            page.keyboard.press("a")
        assert f"4 of {total}" in page.inner_text("#progress")
        shots(page, "evaluate-human-after")
    rows = start_human_session(ws, 1, "Dr._Lee").judged().values()
    assert sorted(r.verdict for r in rows) == ["A", "A", "B", "tie"]
    (noted,) = [r for r in rows if r.reason]
    assert (noted.reason, noted.scores) == ("a better tone", {"A": {"Depth": 4}})
