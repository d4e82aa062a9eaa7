"""The typed run summary (evaluate/summary.py): summary.json validated on write and read, files
from before the model read, the JSON keeping its old shape (absent blocks left out, not null)."""

import json

import pytest
from pairwise_helpers import constructed_summary

from expertune.errors import InputError
from expertune.evaluate.report.evidence import evidence_summary
from expertune.evaluate.results import TaskSummary
from expertune.evaluate.summary import RunSummary, parse_run_summary, read_run_summary, write_run_summary

REFUSAL = {"baseline": "base", "comparisons": {"tuned": {"should_refuse": {
    "metric": "refusal rate", "detail": "prompts to refuse", "n": 40, "base_accuracy": 0.9, "tuned_accuracy": 0.3,
    "mcnemar": {"n_items": 40, "base_only": 25, "tuned_only": 1, "discordant": 26, "method": "chi2-continuity",
                "statistic": 20.3, "p_value": 1e-6}}}}}


def test_absent_blocks_are_left_out_of_the_json_not_null():
    data = constructed_summary({}).model_dump(mode="json")
    assert list(data) == ["run", "lineage", "labels", "counts", "pairs", "truncation", "failures", "costs", "tasks"]
    assert "evidence" not in data and "human" not in data and "checkpoint_selection" not in data


def test_written_summary_reads_back_equal_with_its_evidence_first(tmp_path):
    summary = constructed_summary({"refusal": REFUSAL})
    summary = summary.updated(run=summary.run.updated(folder=str(tmp_path)))
    summary = summary.updated(evidence=evidence_summary(summary))
    path = write_run_summary(summary)
    assert path == tmp_path / "summary.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert list(data)[0] == "evidence" and data["tasks"]["refusal"]["task_name"] == "refusal"
    again = read_run_summary(path)
    assert again == summary and isinstance(again.tasks["refusal"], TaskSummary)
    assert again.evidence.for_candidate("tuned").metrics[0].verdict == "worse"


def test_a_summary_from_before_the_model_reads():
    # no evidence, bootstrap or judge_reliability yet, and task summaries without task_name
    old = constructed_summary({}).model_dump(mode="json")
    old["tasks"] = {"refusal": REFUSAL}
    summary = parse_run_summary(old, "old/summary.json")
    assert summary.evidence is None and summary.bootstrap is None and summary.judge_reliability is None
    assert summary.tasks["refusal"].task_name == "refusal" and summary.tasks["refusal"].baseline == "base"
    assert evidence_summary(summary).for_candidate("tuned").metrics[0].verdict == "worse"  # default bootstrap


@pytest.mark.parametrize("damage, field", [
    (lambda d: d["counts"].pop("items"), "counts.items"),
    (lambda d: d.update(pairs=[{"candidate": "tuned"}]), "pairs.0.baseline"),
    (lambda d: d.update(surprise=1), "surprise"),
])
def test_a_damaged_summary_names_the_file_and_the_field(tmp_path, damage, field):
    data = constructed_summary({}).model_dump(mode="json")
    damage(data)
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=field) as err:
        read_run_summary(path)
    assert str(path) in str(err.value)


def test_a_summary_that_is_not_json_is_an_input_error(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text("{")
    with pytest.raises(InputError, match="not valid JSON"):
        read_run_summary(path)
    with pytest.raises(InputError, match="a JSON object"):
        parse_run_summary([], "x")


def test_a_pair_counts_all_its_judges_when_it_predates_reliability():
    summary = constructed_summary({})
    pair = {"candidate": "tuned", "baseline": "base", "judges": {"a": {}, "b": {}}, "pooled": {}, "agreement": {}}
    summary = RunSummary.model_validate({**summary.model_dump(), "pairs": [pair]})
    assert summary.pairs[0].counted_judges == ["a", "b"]


def test_runs_are_listed_as_typed_rows_even_with_a_damaged_lineage(ws, tmp_path):
    from pairwise_helpers import eval_config, make_workspace, register_scripts

    from expertune.evaluate.config import EvalConfig
    from expertune.evaluate.runs import EvalRunRow, create_run, get_run, list_runs
    from expertune.store.eval_models import EvalRun

    make_workspace(ws, tmp_path, in_domain=3, out_domain=0)
    register_scripts()
    judges = [{"name": "marker", "type": "scripted", "script": "prefers_marker"}]
    config = EvalConfig.model_validate(eval_config("http://127.0.0.1:9/v1", judges, out_domain=False, name="listed"))
    first, second = create_run(ws, config), create_run(ws, config)
    with ws.session() as session:  # a hand-edited lineage: get_run refuses it, the list still shows the run
        run = session.get(EvalRun, second.id)
        run.lineage = {**run.lineage, "grid": "broken"}
    with pytest.raises(InputError, match="lineage.grid"):
        get_run(ws, second.id)
    rows = list_runs(ws)
    assert all(isinstance(r, EvalRunRow) for r in rows) and [r.id for r in rows] == [first.id, second.id]
    assert rows[0].name == "listed" and rows[0].candidates == ["base", "tuned"] and rows[0].judges == ["marker"]
    assert rows[0].prompts == 3 and rows[0].status == first.status and rows[0].folder == first.folder
