"""Browser test with the builtin model: paste a tiny eval config (base vs a tiny adapter, local
judge), follow the job to the end, open the report."""

import pytest
from adapter_helpers import BUILTIN
from browser_helpers import LiveStudio, browser, new_user, run_evaluation, shots, tiny_eval_workspace  # noqa: F401

pytestmark = pytest.mark.integration

CONFIG = f"""name: studio tiny
candidates:
  - {{name: base, model: "{BUILTIN}"}}
  - {{name: tuned, adapter: tiny@current}}
prompts:
  - {{split: test, limit: 2}}
grid: {{temperatures: [0.7], max_new_tokens: [12], seeds: [0]}}
judges:
  - {{name: smol, type: local, model: "{BUILTIN}"}}
bootstrap: 100
"""


def test_run_a_tiny_evaluation_and_open_the_report(ws, tmp_path, browser, shots):
    tiny_eval_workspace(ws, tmp_path)
    with LiveStudio(ws) as studio:
        page = new_user(browser, studio, "evaluator")
        run_evaluation(page, CONFIG, shots)
        page.goto(studio.url + page.get_attribute("#open-report", "href"))
        assert "tiny@1" in page.content()
        shots(page, "evaluate-report")
