"""Forgetting check: flags a drop beyond the margin for exams, labelled tasks and prompt sets."""

import json
import re
from pathlib import Path

import pytest

from conftest import EXAMPLES, write_jsonl
from expertune.errors import InputError
from expertune.evaluate.tasks.exam_formats import LETTERS
from expertune.evaluate.tasks.forgetting import ForgettingConfig, assess, reassess, report_section, run_forgetting
from expertune.llm.base import Generation

EXAM = Path(__file__).parents[2] / "fixtures" / "exams" / "exam8.jsonl"
GOLD = {json.loads(x)["question"]: json.loads(x) for x in EXAM.read_text().splitlines()}


class ExamTaker:
    """Log-prob scoring: picks the gold option for the first `right` questions, else option 'A'."""

    def __init__(self, right, id):
        self.right, self.id = right, id
        self.order = list(GOLD)

    def next_token_logprobs(self, conversations, candidates):
        out = []
        for conv in conversations:
            text = conv[-1]["content"]
            q = re.search(r"^Question: (.*)$", text, re.M).group(1)
            options = re.findall(r"^[A-J]\. (.*)$", text, re.M)
            g = GOLD[q]
            pick = LETTERS[options.index(g["options"][LETTERS.index(g["answer"])])] if self.order.index(q) < self.right else "A"
            out.append({c: 0.0 if c == pick else -5.0 for c in candidates})
        return out


class Writer:
    def __init__(self, rate, id):
        self.rate, self.id = rate, id

    def generate(self, conversations, params):
        return [Generation("Some general answer text here.", "stop") for _ in conversations]

    def completion_logprobs(self, examples):
        return [{"sum_logprob": -self.rate * 5, "n_tokens": 5, "mean_logprob": -self.rate} for _ in examples]


def test_exam_drop_beyond_two_points_is_flagged():
    # base right on 8/8; tuned on the first 7 (question 8 gold D, tuned says A): drop 12.5 points
    result = run_forgetting({"base": ExamTaker(8, "b"), "tuned": ExamTaker(7, "t")}, str(EXAM))
    v = result["verdicts"]["tuned"]
    assert result["flagged"] and result["set_kind"] == "mcq" and v["scoring"] == "logprob"
    assert (v["base"], v["tuned"], v["change"], v["flagged"]) == (1.0, 0.875, -0.125, True)
    assert v["mcnemar"]["base_only"] == 1 and v["mcnemar"]["method"] == "exact-binomial"
    assert "possible forgetting" in report_section(result)
    relaxed = reassess(json.loads(json.dumps(result)), ForgettingConfig(margin_accuracy=0.2))
    assert relaxed["verdicts"]["tuned"]["flagged"] is False and relaxed["flagged"] is False and "no drop beyond the margin" in report_section(relaxed)


def test_equal_accuracy_is_not_flagged():
    result = run_forgetting({"base": ExamTaker(6, "b"), "tuned": ExamTaker(6, "t")}, str(EXAM))
    assert result["verdicts"]["tuned"]["change"] == 0 and not result["flagged"]


def test_prompt_set_nll_rise_beyond_margin_is_flagged():
    result = run_forgetting({"base": Writer(2.0, "b"), "tuned": Writer(2.25, "t")}, str(EXAMPLES / "out_of_domain.jsonl"))
    v = result["verdicts"]["tuned"]
    assert result["set_kind"] == "prompts" and v["metric"] == "nll_per_token"
    assert v["change"] == pytest.approx(0.25) and v["flagged"]
    assert result["result"]["sets"]["ood:out_of_domain"]["generated_references"] == 8
    assert not reassess(result, ForgettingConfig(margin_nll=0.3))["flagged"]
    assert "+0.250 nats" in report_section(result)


def test_classify_set_and_errors(tmp_path):
    task = write_jsonl(tmp_path / "t.jsonl", [{"text": "x one", "label": "a"}, {"text": "y two", "label": "b"}])

    class Labeller:
        def __init__(self, answers, id):
            self.answers, self.id = answers, id

        def generate(self, conversations, params):
            return [Generation(self.answers[c[-1]["content"].split("Text: ")[1]], "stop") for c in conversations]

    result = run_forgetting({"base": Labeller({"x one": "a", "y two": "b"}, "b"),
                             "tuned": Labeller({"x one": "a", "y two": "a"}, "t")}, str(task))
    assert result["verdicts"]["tuned"]["change"] == -0.5 and result["flagged"]
    with pytest.raises(InputError, match="base and a tuned"):
        run_forgetting({"base": Labeller({}, "b")}, str(task))
    with pytest.raises(InputError, match="no such file"):
        run_forgetting({"base": Labeller({}, "b"), "tuned": Labeller({}, "t")}, str(tmp_path / "missing"))
    with pytest.raises(Exception, match="margin_accuracy"):
        ForgettingConfig(margin_accuracy=-1)
    assert assess(result["result"], model="tuned")["flagged"]


def test_typed_verdicts_store_what_the_untyped_ones_did(tmp_path):
    """The verdicts are results.AccuracyVerdict / NllVerdict now; their JSON is the dict built before."""
    from expertune.evaluate.results import AccuracyVerdict, read_result
    from expertune.evaluate.tasks.common import write_result

    result = run_forgetting({"base": ExamTaker(8, "b"), "tuned": ExamTaker(7, "t")}, str(EXAM))
    inner = result["result"]
    before = {"metric": "accuracy", "scoring": "logprob", "base": 1.0, "tuned": 0.875, "change": -0.125,
              "margin": 0.02, "flagged": True, "mcnemar": inner["comparisons"]["tuned"]["logprob"]["mcnemar"]}
    assert list(result["verdicts"]["tuned"].items()) == list(before.items())
    stored = read_result(write_result(tmp_path, "forgetting-exam8.json", result))
    assert isinstance(stored.verdicts["tuned"], AccuracyVerdict) and stored.verdicts["tuned"].mcnemar.base_only == 1

    result = run_forgetting({"base": Writer(2.0, "b"), "tuned": Writer(2.25, "t")}, str(EXAMPLES / "out_of_domain.jsonl"))
    s = result["result"]["sets"]["ood:out_of_domain"]["summary"]
    diff = s["differences"]["tuned"]
    before = {"metric": "nll_per_token", "set": "ood:out_of_domain", "base": s["models"]["base"]["nll_group_mean"],
              "tuned": s["models"]["tuned"]["nll_group_mean"], "change": diff["t"]["mean"], "margin": 0.1, "flagged": True,
              "interval": {"t": diff["t"]["ci"], "bootstrap": diff["bootstrap"]["ci"]}}
    assert list(result["verdicts"]["tuned"].items()) == list(before.items())
    assert read_result(write_result(tmp_path, "forgetting-ood.json", result)).verdicts["tuned"].metric == "nll_per_token"


def test_reassessing_a_damaged_inner_result_names_the_field():
    result = json.loads(json.dumps(run_forgetting({"base": ExamTaker(8, "b"), "tuned": ExamTaker(7, "t")}, str(EXAM))))
    del result["result"]["models"]["tuned"]["summary"]["logprob"]["accuracy"]["k"]
    with pytest.raises(InputError, match=r"the mcq result of the forgetting check: .*models\.tuned\.summary\.logprob\.accuracy\.k: Field required"):
        reassess(result)
