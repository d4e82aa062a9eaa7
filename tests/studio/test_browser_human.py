"""Browser test with the builtin model: run a tiny evaluation from the studio (base vs a tiny
adapter, a human judge only), then make 4 blind judgments on the review page with the keyboard
(A, T, B, and A after scoring a criterion and writing a note). The page never shows a candidate
or run name; the verdicts are stored as the user's human judgments."""

import pytest
from adapter_helpers import BUILTIN, make_adapter
from browser_helpers import LiveStudio, browser, new_user, shots  # noqa: F401 (fixtures)
from conftest import tiny_records, write_jsonl

from expertune.data.ingest import import_file
from expertune.data.splits import assign_splits
from expertune.evaluate.human import start_human_session
from expertune.llm.adapters import read_adapter
from expertune.store.tables import Adapter

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
    import_file(ws, write_jsonl(tmp_path / "tiny.jsonl", tiny_records()))
    assign_splits(ws, val=0.0, test=0.5, seed=1)
    folder = make_adapter(tmp_path / "adapter")
    with ws.session() as s:
        s.add(Adapter(name="tiny", version=1, path=str(folder), run_id="test-run", base_model=BUILTIN,
                      base_sha256=read_adapter(folder).base_sha256, dataset_hash="0" * 64, recipe={"method": "lora"},
                      is_current=True))
    with LiveStudio(ws) as studio:
        page = new_user(browser, studio, "Dr. Lee")
        page.click("text=Evaluate")
        page.fill("textarea[name=yaml_text]", CONFIG)
        page.click("#start-eval")
        page.wait_for_selector("#job-status.completed, #job-status.failed", timeout=600_000)
        assert page.inner_text("#job-status") == "completed", page.inner_text("main")
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
