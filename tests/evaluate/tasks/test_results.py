"""Stored task results are typed (evaluate/results.py): validated when a task writes them and when a
report section or `eval stats` reads them; a damaged file is an InputError naming the file and the
field (never a KeyError in a section), and files from before the models existed still read."""

import json
from types import SimpleNamespace

import pytest

from expertune.errors import InputError
from expertune.evaluate.registry import SECTIONS
from expertune.evaluate.results import (
    McqResult, TaskResult, read_result, read_task_summary, write_result,
)
from expertune.evaluate.tasks import mcq
from expertune.evaluate.tasks.common import write_result as write_task_result
from test_mcq import EXAMS, ScriptedModel


def _exam_result() -> dict:
    items, info = mcq.load_exam(EXAMS / "exam8.jsonl")
    model = ScriptedModel(items, lambda it, o, g: json.dumps({"answer": g, "explanation": "x"}))
    return mcq.run_exam({"base": model, "tuned": model}, items, formats="zero-answer-json", exam_info=info)


def _section(key: str, folder) -> str | None:
    return next(s for s in SECTIONS if s.key == key).builder(SimpleNamespace(run=SimpleNamespace(folder=str(folder))))


def test_a_result_is_validated_when_written_and_read_back_typed(tmp_path):
    path = write_task_result(tmp_path, "mcq-exam8.json", _exam_result(), task_name="mcq")
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert (stored["kind"], stored["schema_version"], stored["task_name"]) == ("mcq", 1, "mcq")
    result = read_result(path)
    assert isinstance(result, McqResult) and result.baseline == "base" and set(result.models) == {"base", "tuned"}
    assert result.exam["n_items"] == 8 and "tuned" in result.comparisons
    assert "Multiple-choice exam" in _section("mcq", tmp_path)
    # A task that builds a result without a required field fails when it writes, not in the report.
    broken = {k: v for k, v in _exam_result().items() if k != "models"}
    with pytest.raises(InputError, match=r"mcq-bad\.json: not a valid mcq result \(models: Field required"):
        write_result(tmp_path, "mcq-bad.json", broken)
    assert not (tmp_path / "mcq-bad.json").exists()


def test_a_damaged_result_file_is_an_input_error_naming_file_and_field(tmp_path):
    path = write_task_result(tmp_path, "mcq-exam8.json", _exam_result())
    data = json.loads(path.read_text(encoding="utf-8"))
    data["models"] = ["base", "tuned"]  # hand-edited
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError, match=rf"{path}: not a valid mcq result \(models: Input should be a valid dictionary"):
        read_result(path)
    with pytest.raises(InputError, match="models: Input should be a valid dictionary"):  # the report shows this, not a KeyError
        _section("mcq", tmp_path)
    path.write_text('{"kind": "mcq", ', encoding="utf-8")
    assert _section("mcq", tmp_path) is None  # not JSON: not a result the section claims
    with pytest.raises(InputError, match="not valid JSON"):
        read_result(path)


def test_results_written_before_the_models_read_and_newer_ones_are_refused(tmp_path):
    old = json.loads(json.dumps(_exam_result(), default=str))  # as write_result stored it then: no version, no task
    (tmp_path / "mcq-old.json").write_text(json.dumps(old), encoding="utf-8")
    result = read_result(tmp_path / "mcq-old.json")
    assert (result.schema_version, result.task_name) == (1, None)
    (tmp_path / "mcq-new.json").write_text(json.dumps({**old, "schema_version": 2}), encoding="utf-8")
    with pytest.raises(InputError, match="schema_version 2 was written by a newer expertune"):
        read_result(tmp_path / "mcq-new.json")
    # A kind without a model of its own (a plugin's) reads as the base, its fields kept.
    (tmp_path / "greet.json").write_text(json.dumps({"kind": "greet", "hello": 2}), encoding="utf-8")
    greet = read_result(tmp_path / "greet.json")
    assert type(greet) is TaskResult and greet.kind == "greet" and greet.hello == 2


def test_a_task_summary_from_before_reads_and_a_damaged_one_names_the_field(tmp_path):
    (tmp_path / "mcq.json").write_text(json.dumps({"path": "/r/mcq-x.json", "baseline": "base", "comparisons": {}}))
    summary = read_task_summary(tmp_path / "mcq.json")
    assert (summary.task_name, summary.baseline, summary.comparisons) == ("mcq", "base", {})
    (tmp_path / "mcq.json").write_text(json.dumps({"path": "/r/mcq-x.json", "baseline": ["base"]}))
    with pytest.raises(InputError, match=r"mcq\.json: not a valid task summary \(baseline: Input should be a valid string"):
        read_task_summary(tmp_path / "mcq.json")


def _untyped_json(data: dict, task_name: str | None = None) -> str:
    """The file as written when only the top level of a result was typed: the producer's dict as
    it was, after kind, schema_version and task_name."""
    from pydantic_core import to_json

    head = {"kind": data["kind"], "schema_version": 1, "task_name": task_name}
    return to_json({**head, **{k: v for k, v in data.items() if k not in head}}, indent=1).decode()


def test_typed_exam_blocks_write_the_same_bytes_as_before_and_read_as_attributes(tmp_path):
    items, info = mcq.load_exam(EXAMS / "exam8.jsonl")
    # Shifts and scoring "both": the keys written only sometimes (consistency, accuracy over all
    # shifts, agreement with log-probs) are all there; the logprob summary has none of them.
    model = ScriptedModel(items, lambda it, o, g: json.dumps({"answer": "A", "explanation": "x"}),
                          logprob_script=lambda it, o, g: g)
    data = mcq.run_exam({"base": model, "tuned": model}, items, formats="zero-answer-json", permutations=True,
                        scoring="both", exam_info=info)
    path = write_task_result(tmp_path, "mcq-exam8.json", data, task_name="mcq")
    assert path.read_text(encoding="utf-8") == _untyped_json(data, "mcq")
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert "consistency" in stored["models"]["base"]["summary"]["zero-answer-json"]
    assert "logprob_agreement" not in stored["models"]["base"]["summary"]["logprob"]  # absent, not null
    result = read_result(path)
    s = result.models["base"].summary["zero-answer-json"]
    assert s.accuracy.n == 8 and s.logprob_agreement is not None and result.models["base"].summary["logprob"].logprob_agreement is None
    assert result.comparisons["tuned"]["logprob"].mcnemar.method == "none"
    # Read back and written again: the same bytes.
    write_result(tmp_path, "again.json", result)
    assert (tmp_path / "again.json").read_text(encoding="utf-8") == path.read_text(encoding="utf-8")


def test_a_damaged_exam_summary_names_the_nested_field(tmp_path):
    data = json.loads(json.dumps(_exam_result()))
    data["models"]["base"]["summary"]["zero-answer-json"]["accuracy"] = {"k": 1}
    with pytest.raises(InputError, match=r"models\.base\.summary\.zero-answer-json\.accuracy\.n: Field required"):
        write_result(tmp_path, "mcq-bad.json", data)


@pytest.mark.parametrize("scoring", ["generate", "both"])
def test_typed_classification_blocks_write_the_same_bytes_as_before(tmp_path, scoring):
    from expertune.evaluate.tasks import classify
    from test_classify import ANSWERS, LOGPROB_PICK, TASK, ScriptedClassifier

    items, info = classify.load_task(TASK)
    model = ScriptedClassifier(items, ANSWERS, LOGPROB_PICK)
    data = classify.run_task({"base": model, "tuned": model}, items, scoring=scoring, task_info=info)
    path = write_task_result(tmp_path, "classify-x.json", data, task_name="classify")
    assert path.read_text(encoding="utf-8") == _untyped_json(data, "classify")
    result = read_result(path)
    summary = result.models["tuned"].summary
    assert summary.generate.per_class["terms"].specificity == 1.0 and summary.generate.confusion.columns[-1] == "invalid"
    assert (summary.agreement is None) == (scoring == "generate") and (summary.logprob is None) == (scoring == "generate")
    assert result.comparisons["tuned"]["generate"].mcnemar.discordant == 0
    write_result(tmp_path, "again.json", result)
    assert (tmp_path / "again.json").read_text(encoding="utf-8") == path.read_text(encoding="utf-8")


def test_a_classification_result_from_before_undefined_ratios_counted_as_zero_reads(tmp_path):
    from expertune.evaluate.tasks import classify
    from test_classify import ANSWERS, TASK, ScriptedClassifier

    items, info = classify.load_task(TASK)
    data = json.loads(json.dumps(classify.run_task({"base": ScriptedClassifier(items, ANSWERS)}, items, task_info=info)))
    metrics = data["models"]["base"]["summary"]["generate"]
    metrics["per_class"]["terms"]["precision"] = None  # then: never predicted, precision undefined
    metrics["confusion"] = metrics.pop("confusion")  # then: written last
    (tmp_path / "classify-old.json").write_text(json.dumps(data), encoding="utf-8")
    result = read_result(tmp_path / "classify-old.json")
    assert result.models["base"].summary.generate.per_class["terms"].precision is None
    assert "Classification" in classify.report_section(result, charts=False)


def test_a_perplexity_sets_summary_is_typed_and_a_damaged_one_names_the_field(tmp_path):
    from expertune.evaluate.tasks import perplexity
    from conftest import EXAMPLES
    from test_perplexity import ScriptedScorer

    examples, info = perplexity.ood_examples(EXAMPLES / "out_of_domain.jsonl")
    data = perplexity.run_sets({"base": ScriptedScorer(2.0, "b"), "tuned": ScriptedScorer(2.25, "t")},
                               {"ood:x": examples}, set_info={"ood:x": info})
    path = write_task_result(tmp_path, "perplexity.json", data)
    assert path.read_text(encoding="utf-8") == _untyped_json(data)
    s = read_result(path).set_summary("ood:x")
    assert s.baseline == "base" and s.differences["tuned"].t.mean == pytest.approx(0.25) and s.models["tuned"].n_groups == 8
    data = json.loads(json.dumps(data))
    data["sets"]["ood:x"]["summary"]["differences"]["tuned"]["t"] = {"mean": 0.25}
    with pytest.raises(InputError, match=r"perplexity-bad\.json: not a valid perplexity result \(sets: .*ood:x\.summary: differences\.tuned\.t\.n: Field required"):
        write_result(tmp_path, "perplexity-bad.json", data)
