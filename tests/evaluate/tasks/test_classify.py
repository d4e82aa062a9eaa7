"""Classification tasks with a scripted model; metrics computed by hand in the comments."""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expertune.errors import InputError
from expertune.evaluate.stats import classification_metrics
from expertune.evaluate.tasks import classify
from expertune.llm.base import Generation

TASK = Path(__file__).parents[2] / "fixtures" / "exams" / "classify6.jsonl"
LABELS = ["formation", "remedies", "terms"]

# Test items by line: 7, 8 formation; 9, 10 remedies; 11, 12 terms.
ANSWERS = {
    7: "formation",                            # exact, right
    8: "Remedies",                             # case-insensitive, wrong (remedies)
    9: "remedies, because damages are sought",  # leading label, right
    10: "It could be formation or terms.",     # two labels: ambiguous -> invalid
    11: "I think this is about terms.",        # the only label mentioned, right
    12: "formation",                           # wrong (formation)
}
LOGPROB_PICK = {7: "formation", 8: "formation", 9: "remedies", 10: "remedies", 11: "terms", 12: "remedies"}


class ScriptedClassifier:
    def __init__(self, items, answers, picks=None, id="scripted"):
        self.id = id
        self.line = {it.text: it.line for it in items}
        self.answers, self.picks = answers, picks
        self.seen = []

    def _line(self, conv):
        return self.line[conv[-1]["content"].split("Text: ", 1)[1]]

    def generate(self, conversations, params):
        self.seen.extend(conversations)
        return [Generation(self.answers[self._line(c)], "stop") for c in conversations]

    def next_token_logprobs(self, conversations, candidates):
        return [{c: (-0.2 if c == self.picks[self._line(conv)] else -2.0) for c in candidates} for conv in conversations]


def test_scripted_task_gives_hand_computed_metrics():
    items, info = classify.load_task(TASK)
    assert classify.label_set(items) == LABELS and len(classify.eval_items(items)) == 6
    model = ScriptedClassifier(items, ANSWERS, LOGPROB_PICK)
    result = classify.run_task({"base": model}, items, scoring="both", task_info=info)
    res = result["models"]["base"]
    assert [r["method"] for r in res["records"]] == ["exact", "case", "leading", "ambiguous", "mentioned", "exact"]
    m = res["summary"]["generate"]
    assert m["confusion"]["columns"] == [*LABELS, "invalid"]
    assert m["confusion"]["matrix"] == [[1, 1, 0, 0], [0, 1, 0, 1], [1, 0, 1, 0]]
    assert (m["accuracy"]["k"], m["invalid"]["k"], m["n"]) == (3, 1, 6)
    f, r, t = (m["per_class"][k] for k in LABELS)
    assert (f["precision"], f["recall"], f["f1"], f["specificity"]) == (0.5, 0.5, 0.5, 0.75)
    assert (r["precision"], r["recall"], r["f1"], r["specificity"]) == (0.5, 0.5, 0.5, 0.75)
    assert (t["precision"], t["recall"], t["specificity"], t["sensitivity"]) == (1.0, 0.5, 1.0, 0.5)
    assert t["f1"] == pytest.approx(2 / 3)
    assert m["macro"]["precision"] == pytest.approx(2 / 3) and m["macro"]["recall"] == pytest.approx(0.5)
    assert m["macro"]["f1"] == pytest.approx((0.5 + 0.5 + 2 / 3) / 3)
    assert m["macro"]["specificity"] == pytest.approx((0.75 + 0.75 + 1) / 3)
    # micro: tp 3, fp 2 (the invalid answer is no one's positive), fn 3
    assert m["micro"]["precision"] == pytest.approx(0.6) and m["micro"]["recall"] == pytest.approx(0.5)
    assert m["micro"]["f1"] == pytest.approx(2 * 0.6 * 0.5 / 1.1)
    lp = res["summary"]["logprob"]
    assert res["logprob_method"] == "first-token" and lp["accuracy"]["k"] == 5  # all but line 12
    assert res["summary"]["agreement"] == {"k": 3, "n": 6, "value": 0.5}  # lines 7, 9, 11
    assert classify.rescore(json.loads(json.dumps(result))) == json.loads(json.dumps(result))
    html = classify.report_section(result)
    assert html.count("data:image/png;base64,") == 2 and "invalid" in html


def test_base_vs_tuned_uses_mcnemar():
    items, _ = classify.load_task(TASK)
    perfect = {it.line: it.label for it in items}
    result = classify.run_task({"base": ScriptedClassifier(items, ANSWERS),
                                "tuned": ScriptedClassifier(items, perfect)}, items)
    c = result["comparisons"]["tuned"]["generate"]
    assert (c["base_accuracy"], c["tuned_accuracy"]) == (0.5, 1.0)
    assert (c["mcnemar"]["base_only"], c["mcnemar"]["tuned_only"]) == (0, 3)
    assert c["mcnemar"]["p_value"] == pytest.approx(0.25)


def test_training_records_use_the_evaluation_prompt_and_train_split_only(tmp_path, ws):
    records = classify.to_training_records(TASK)
    assert len(records) == 6 and [r["messages"][-1]["content"] for r in records][:3] == LABELS[:1] + ["remedies", "terms"]
    items, _ = classify.load_task(TASK)
    first = items[0]
    assert records[0]["messages"][:-1] == classify.build_prompt(first.text, LABELS)
    out = classify.export_training(TASK, tmp_path / "train.jsonl")
    assert out["rows"] == 6
    lines = [json.loads(x) for x in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert lines == records
    # The exported file imports like any other chat data: one group per text, the label as answer.
    from expertune.data.ingest import import_file

    report = import_file(ws, tmp_path / "train.jsonl")
    assert getattr(report, "imported", None) in (6, None)
    from sqlalchemy import func, select

    from expertune.store.tables import Response

    with ws.session() as session:
        assert session.scalar(select(func.count()).select_from(Response)) == 6


@pytest.mark.parametrize("reply,label,method", [
    ("terms", "terms", "exact"),
    ("  TERMS. ", "terms", "case"),
    ("Label: **Remedies**", "remedies", "case"),
    ("formation — the offer was accepted", "formation", "leading"),
    ("formation or terms", None, "ambiguous"),
    ("The answer concerns remedies (damages).", "remedies", "mentioned"),
    ("Not formation; this is about remedies.", None, "ambiguous"),
    ("no idea", None, "none"),
    ("", None, "none"),
    ("transformation", None, "none"),  # a label inside a word is not a mention
])
def test_label_parsing(reply, label, method):
    assert classify.parse_label(reply, LABELS) == (label, method)


def test_longer_labels_win_over_their_prefixes():
    labels = ["terms", "terms of art", "remedies"]
    assert classify.parse_label("This concerns terms of art.", labels) == ("terms of art", "mentioned")


@settings(max_examples=80, deadline=None)
@given(reply=st.text(max_size=200), labels=st.lists(st.text(min_size=1, max_size=12).filter(str.strip),
                                                   min_size=1, max_size=6, unique=True))
def test_label_parsing_never_raises_and_returns_a_label_or_none(reply, labels):
    label, method = classify.parse_label(reply, labels)
    assert label is None or label in labels
    assert method in ("exact", "case", "leading", "mentioned", "ambiguous", "none")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LABELS), st.sampled_from([*LABELS, None])), min_size=1, max_size=30))
def test_confusion_matrix_counts_every_item(pairs):
    gold, pred = [g for g, _ in pairs], [p for _, p in pairs]
    m = classification_metrics(gold, pred, LABELS)
    assert sum(map(sum, m["confusion"]["matrix"])) == len(pairs)
    assert sum(v["support"] for v in m["per_class"].values()) == len(pairs)
    assert m["accuracy"]["k"] == sum(g == p for g, p in pairs)


def test_task_errors_name_line_and_field(tmp_path):
    bad = tmp_path / "t.jsonl"
    bad.write_text(json.dumps({"text": "x", "label": "a", "split": "dev"}) + "\n" + json.dumps({"text": "y", "label": "b"}) + "\n")
    with pytest.raises(InputError, match="t.jsonl:1: field 'split' must be train, val or test"):
        classify.load_task(bad)
    bad.write_text(json.dumps({"text": "x", "label": "a"}) + "\n" + json.dumps({"text": "y", "label": 3}) + "\n")
    with pytest.raises(InputError, match="t.jsonl:2: label must be a string"):
        classify.load_task(bad)
    only_train = tmp_path / "o.jsonl"
    only_train.write_text(json.dumps({"text": "x", "label": "a", "split": "train"}) + "\n")
    with pytest.raises(InputError, match="no \"split\": \"test\""):
        classify.run_task({}, classify.load_task(only_train)[0])


def test_failed_generations_are_reported_not_scored_as_wrong():
    items, _ = classify.load_task(TASK)
    perfect = {it.line: it.label for it in items}

    class Flaky(ScriptedClassifier):
        def generate(self, conversations, params):
            out = super().generate(conversations, params)
            out[0].finish_reason, out[0].text = "error", ""
            return out

    result = classify.run_task({"base": Flaky(items, perfect), "tuned": ScriptedClassifier(items, perfect)}, items)
    m = result["models"]["base"]["summary"]["generate"]
    assert m["errors"] == 1 and m["n"] == 5 and m["accuracy"]["value"] == 1.0 and m["invalid"]["k"] == 0
    assert result["comparisons"]["tuned"]["generate"]["n"] == 5
