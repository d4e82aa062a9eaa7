"""End to end on the builtin model: base vs a tiny random LoRA adapter (registered as tiny@1),
a local judge, statistics, the report, and a resume that does nothing twice."""

import pytest
from adapter_helpers import BUILTIN, make_adapter
from pairwise_helpers import make_workspace

from expertune.evaluate.config import EvalConfig
from expertune.evaluate.pipeline import run_eval
from expertune.evaluate.report.build import write_report
from expertune.llm.adapters import read_adapter
from expertune.store.tables import Adapter

pytestmark = pytest.mark.integration


def test_base_vs_tiny_adapter_with_a_local_judge(ws, tmp_path):
    make_workspace(ws, tmp_path, in_domain=2, out_domain=1)
    folder = make_adapter(tmp_path / "adapter")
    info = read_adapter(folder)
    with ws.session() as s:
        s.add(Adapter(name="tiny", version=1, path=str(folder), run_id="test-run", base_model=BUILTIN,
                      base_sha256=info.base_sha256, dataset_hash="0" * 64, recipe={"method": "lora", "r": 4}, is_current=True))
    config = EvalConfig.model_validate({
        "name": "tiny e2e",
        "candidates": [{"name": "base", "model": BUILTIN}, {"name": "tuned", "adapter": "tiny@current"}],
        "prompts": [{"evalset": "indomain"}, {"evalset": "ood"}],
        "grid": {"temperatures": [0.7], "max_new_tokens": [12], "seeds": [0]},
        "judges": [{"name": "smol", "type": "local", "model": BUILTIN, "rubric_scores": True}],
        "rubric": {"criteria": [{"name": "Quality", "description": "overall quality"}]},
        "bootstrap": 200,
    })
    result = run_eval(ws, config)
    gen = result["generation"]
    assert gen["generated"] == 6 and gen["errors"] == 0
    summary = result["summary"]
    tuned = summary.lineage.candidates[1]
    assert tuned.adapter.name == "tiny" and tuned.adapter.sha256 == info.sha256
    assert tuned.adapter.recipe == {"method": "lora", "r": 4}
    assert tuned.model_id.endswith("+lora:" + info.sha256)
    pair = summary.pairs[0]
    smol = pair.judges["smol"]
    identical = summary.counts.identical_answers
    assert result["judging"]["judges"]["smol"]["judged"] == 2 * (3 - identical)
    assert smol["overall"]["n"] == 3 and smol["overall"]["failed_items"] == 0  # a local judge never fails to parse
    assert smol["reliability"]["first_position"]["n"] == 2 * (3 - identical)
    if identical < 3:
        quality = smol["criteria"]["Quality"]
        assert 1 <= quality["candidate_mean"] <= 5 and 1 <= quality["baseline_mean"] <= 5
    assert summary.truncation["base"]["answers"] == 3

    report = write_report(ws, result["run"])
    html = (ws.runs_dir / f"eval-{result['run']}" / "report.html").read_text(encoding="utf-8")
    assert report["path"].endswith("report.html") and "samples" in report["sections"]
    assert "tiny@1" in html and info.sha256[:12] in html and "data:image/png;base64," in html

    again = run_eval(ws, resume=result["run"])  # everything is cached: no generation, no judging
    assert again["generation"]["generated"] == 0 and again["judging"]["judges"]["smol"]["judged"] == 0
    assert again["summary"].pairs == summary.pairs
