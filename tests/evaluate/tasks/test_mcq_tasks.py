"""The `eval run` tasks (tasks: {mcq, classify, perplexity, forgetting}) and their report sections,
driven with scripted candidates through the registry (evaluate/registry.py)."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import synthetic_groups, write_jsonl
from expertune.data.ingest import import_file
from expertune.data.splits import assign_splits
from expertune.evaluate.frozen import FrozenLocalCandidate
from expertune.evaluate.registry import SECTIONS, TASKS
from expertune.evaluate.tasks import mcq, validate_tasks
from test_classify import ANSWERS, TASK, ScriptedClassifier
from test_forgetting import ExamTaker
from test_mcq import EXAMS, ScriptedModel, base_script
from test_perplexity import ScriptedScorer


@dataclass
class Ctx:
    """Stands in for evaluate.runs.TaskContext: same fields, scripted chat models."""

    ws: object
    folder: Path
    models: dict
    run_id: int = 1
    baseline: str = "base"
    candidates: list = field(default_factory=list)

    def __post_init__(self):
        self.candidates = [FrozenLocalCandidate(name=n, model_id=f"id-{n}", base="scripted", base_sha256="s")
                           for n in self.models]

    def chat_model(self, name):
        return self.models[name]


@dataclass
class ReportCtx:
    run: SimpleNamespace  # the part of evaluate.runs.EvalRunRecord a results section reads


def section(key, folder):
    return next(s for s in SECTIONS if s.key == key).builder(ReportCtx(SimpleNamespace(folder=str(folder))))


def test_tasks_are_registered_and_validated():
    assert {"mcq", "classify", "perplexity", "forgetting"} <= set(TASKS)
    ok = validate_tasks({"mcq": {"exam": "exam.jsonl", "permutations": True}, "forgetting": {"set": "general"}})
    assert ok["mcq"]["scoring"] == "generate" and ok["forgetting"]["margin_accuracy"] == 0.02
    with pytest.raises(ValueError, match="tasks.mcq"):
        validate_tasks({"mcq": {"exam": "x", "bogus": 1}})
    with pytest.raises(ValueError, match="tasks.classify"):
        validate_tasks({"classify": {"task": "t", "scoring": "vibes"}})


def test_mcq_and_classify_tasks_store_results_the_report_renders(ws, tmp_path):
    items, _ = mcq.load_exam(EXAMS / "exam8.jsonl")
    perfect = lambda it, o, g: json.dumps({"answer": g, "explanation": "x"})
    ctx = Ctx(ws, tmp_path / "eval-1", {"base": ScriptedModel(items, base_script), "tuned": ScriptedModel(items, perfect)})
    cfg = TASKS["mcq"].config_model(exam=str(EXAMS / "exam8.jsonl"), formats="zero-answer-json", permutations=True)
    out = TASKS["mcq"].run(ctx, cfg)
    assert Path(out["path"]).name == "mcq-exam8.json" and out["baseline"] == "base"
    assert out["summary"]["base"]["zero-answer-json"]["accuracy"]["k"] == 5
    assert out["comparisons"]["tuned"]["zero-answer-json"]["mcnemar"]["tuned_only"] == 3
    json.dumps(out)  # the pipeline stores it as JSON

    from expertune.evaluate.tasks import classify

    task_items, _ = classify.load_task(TASK)
    perfect_labels = {it.line: it.label for it in task_items}
    ctx.models = {"base": ScriptedClassifier(task_items, ANSWERS), "tuned": ScriptedClassifier(task_items, perfect_labels)}
    out = TASKS["classify"].run(ctx, TASKS["classify"].config_model(task=str(TASK)))
    assert out["comparisons"]["tuned"]["generate"]["tuned_accuracy"] == 1.0

    html = section("mcq", ctx.folder)
    assert "Multiple-choice exam" in html and "McNemar" in html and html.count("data:image/png") == 3
    html = section("classify", ctx.folder)
    assert "Classification" in html and "invalid" in html
    assert section("perplexity", ctx.folder) is None  # nothing stored: the section is left out


def test_perplexity_and_forgetting_tasks(ws, tmp_path):
    import_file(ws, write_jsonl(tmp_path / "d.jsonl", synthetic_groups(20, per_group=2)))
    assign_splits(ws, val=0.25, test=0.25)
    ctx = Ctx(ws, tmp_path / "eval-2", {"base": ScriptedScorer(2.0, "b"), "tuned": ScriptedScorer(1.8, "t")})
    out = TASKS["perplexity"].run(ctx, TASKS["perplexity"].config_model())
    assert out["sets"]["heldout"]["differences"]["tuned"]["t"]["mean"] == pytest.approx(-0.2)
    ctx.models = {"base": ExamTaker(8, "b"), "tuned": ExamTaker(5, "t")}
    out = TASKS["forgetting"].run(ctx, TASKS["forgetting"].config_model(set=str(EXAMS / "exam8.jsonl")))
    assert out["flagged"] and out["verdicts"]["tuned"]["change"] == pytest.approx(-3 / 8)
    assert "nats" in section("perplexity", ctx.folder) and "possible forgetting" in section("forgetting", ctx.folder)

    from expertune.evaluate.tasks.standalone import report_sections

    assert len(report_sections(ctx.folder)) == 2
