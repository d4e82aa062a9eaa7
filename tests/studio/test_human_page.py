"""Blind human review page against a run whose candidates are served by a local fake
OpenAI-compatible server: the page never names a candidate or the run, shows the comparisons in
the library's random order with neutral labels, and a POSTed judgment (verdict, scores, note) is
stored as the user's human judgment."""

import json
import re

import pytest
from studio_helpers import MARKUP, client, post

from expertune.data.evalsets import add_evalset
from expertune.evaluate.config import EvalConfig
from expertune.evaluate.pairwise.human import judge_name_for, progress, start_human_session
from expertune.evaluate.pipeline import run_eval
from expertune.llm.testing import FakeOpenAIServer

# Candidate and run names that appear nowhere else in the studio, so finding one on the page is a leak.
NAMES = ("orchidbaseline", "marigoldtuned", "marigold-beats-orchid")


def answer(body) -> str:
    n = re.search(r"Question (\d+)", body["messages"][-1]["content"]).group(1)
    side = "north" if body["model"] == "m1" else "south"
    return f"The {side} reply to question {n}. {MARKUP if n == '2' else ''}"


@pytest.fixture
def run_ws(ws, tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"Question {i}: explain rule {i}."}) + "\n" for i in range(3)))
    add_evalset(ws, prompts, name="rules", in_domain=True)
    with FakeOpenAIServer(answer) as srv:
        candidates = [{"name": name, "type": "openai", "base_url": srv.base_url, "model": model, "backoff_base": 0.001}
                      for name, model in ((NAMES[0], "m0"), (NAMES[1], "m1"))]
        config = EvalConfig.model_validate({
            "name": NAMES[2], "candidates": candidates, "baseline": NAMES[0], "prompts": [{"evalset": "rules"}],
            "grid": {"temperatures": [0.5], "max_new_tokens": [32], "seeds": [0]},
            "judges": [{"name": "expert", "type": "human"}], "bootstrap": 100})
        result = run_eval(ws, config)
    return ws, result["run"]


def test_the_page_never_names_a_candidate_and_a_judgment_is_stored(run_ws):
    ws, run_id = run_ws
    c = client(ws, user="Dr. Lee")
    page = c.get(f"/evaluate/runs/{run_id}/human").text
    assert "Answer A" in page and "Answer B" in page and "0 of 3" in page and "comparison 1 of 3" in page
    assert "<script>alert" not in page  # answers are text, not markup
    for name in NAMES:
        assert name not in page.lower()
    assert c.get("/static/studio.js").text.lower().count("orchid") == 0
    cid = re.search(r'action="/evaluate/runs/\d+/human/([0-9a-f]+)"', page).group(1)
    r = post(c, f"/evaluate/runs/{run_id}/human/{cid}", {"verdict": "B", "note": "clearer", "score:A:Depth": "2",
                                                        "score:B:Depth": "4", "score:B:Quality": "", "shown_at": "0"},
             follow_redirects=False)
    assert r.status_code == 303
    session = start_human_session(ws, run_id, judge_name_for("Dr. Lee"))
    (row,) = session.judged().values()
    assert (row.judge, row.verdict, row.reason, row.scores) == ("human:Dr._Lee", "B", "clearer",
                                                                {"A": {"Depth": 2}, "B": {"Depth": 4}})
    assert row.seconds == 24 * 3600.0  # shown_at 0 is decades ago: capped at a day
    after = c.get(f"/evaluate/runs/{run_id}/human").text
    assert "1 of 3" in after and f"/human/{cid}\"" not in after
    for name in NAMES:
        assert name not in after.lower()
    assert progress(session) == {"done": 1, "total": 3, "pending": 2}


def test_bad_verdicts_and_scores_are_refused_and_csrf_is_required(run_ws):
    ws, run_id = run_ws
    c = client(ws)
    cid = re.search(r"/human/([0-9a-f]+)\"", c.get(f"/evaluate/runs/{run_id}/human").text).group(1)
    url = f"/evaluate/runs/{run_id}/human/{cid}"
    r = post(c, url, {"verdict": "C"})
    assert r.status_code == 400 and "use A, B or tie" in r.text
    r = post(c, url, {"verdict": "A", "score:A:Depth": "9"})
    assert r.status_code == 400 and "A/Depth = 9" in r.text
    assert c.post(url, data={"verdict": "A"}).status_code == 403  # no CSRF token
    assert post(c, f"/evaluate/runs/{run_id}/human/0000", {"verdict": "A"}).status_code == 404
    assert progress(start_human_session(ws, run_id, "alice"))["done"] == 0


def test_every_comparison_judged_shows_the_end_and_the_run_page_links_here(run_ws):
    ws, run_id = run_ws
    c = client(ws)
    assert f'href="/evaluate/runs/{run_id}/human"' in c.get("/evaluate").text
    for verdict in ("A", "tie", "B"):
        cid = re.search(r"/human/([0-9a-f]+)\"", c.get(f"/evaluate/runs/{run_id}/human").text).group(1)
        post(c, f"/evaluate/runs/{run_id}/human/{cid}", {"verdict": verdict})
    page = c.get(f"/evaluate/runs/{run_id}/human").text
    assert "All 3 comparisons judged" in page and "3 of 3" in page


def test_a_sample_limits_what_is_left_to_judge_and_is_kept(run_ws):
    ws, run_id = run_ws
    c = client(ws, user="bob")
    assert post(c, f"/evaluate/runs/{run_id}/human/sample", {"sample": 0}).status_code == 400
    assert post(c, f"/evaluate/runs/{run_id}/human/sample", {"sample": 2, "prefer": "best"}).status_code == 400
    post(c, f"/evaluate/runs/{run_id}/human/sample", {"sample": 2, "prefer": "disagreement"})
    assert "0 of 2" in c.get(f"/evaluate/runs/{run_id}/human").text
    assert progress(start_human_session(ws, run_id, "bob"))["total"] == 2  # kept for the next visit
    assert progress(start_human_session(ws, run_id, "alice"))["total"] == 3  # another person's session is whole
