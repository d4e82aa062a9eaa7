"""Browser test with the builtin model: paste a tiny eval config (base vs a tiny adapter, local
judge), follow the job to the end, open the report."""

import pytest
from adapter_helpers import BUILTIN, make_adapter

from browser_helpers import LiveStudio, browser, new_user, shots  # noqa: F401 (fixtures)
from conftest import tiny_records, write_jsonl
from expertune.data.ingest import import_file
from expertune.data.splits import assign_splits
from expertune.llm.adapters import read_adapter
from expertune.store.tables import Adapter

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
    import_file(ws, write_jsonl(tmp_path / "tiny.jsonl", tiny_records()))
    assign_splits(ws, val=0.0, test=0.5, seed=1)
    folder = make_adapter(tmp_path / "adapter")
    with ws.session() as s:
        s.add(Adapter(name="tiny", version=1, path=str(folder), run_id="test-run", base_model=BUILTIN,
                      base_sha256=read_adapter(folder).base_sha256, dataset_hash="0" * 64, recipe={"method": "lora"},
                      is_current=True))
    with LiveStudio(ws) as studio:
        page = new_user(browser, studio, "evaluator")
        page.click("text=Evaluate")
        page.fill("textarea[name=yaml_text]", CONFIG)
        shots(page, "evaluate")
        page.click("#start-eval")
        page.wait_for_selector("#job-status")
        page.wait_for_selector("#job-status.completed, #job-status.failed", timeout=600_000)
        shots(page, "evaluate-job")
        assert page.inner_text("#job-status") == "completed", page.inner_text("main")
        page.goto(studio.url + page.get_attribute("#open-report", "href"))
        assert "tiny@1" in page.content()
        shots(page, "evaluate-report")
