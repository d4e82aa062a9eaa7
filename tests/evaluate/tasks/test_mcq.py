"""Exams with a scripted model: every number below is computed by hand in the comments."""

import json
import re
from pathlib import Path

import pytest

from expertune.errors import InputError
from expertune.evaluate.tasks import mcq
from expertune.evaluate.tasks.exam_formats import ALL_FORMATS, LETTERS, render_answer
from expertune.llm.base import Generation

EXAMS = Path(__file__).parents[2] / "fixtures" / "exams"


def presented(conv):
    """(question number 1..8 in the fixture, presented options) from the last user turn."""
    text = conv[-1]["content"]
    question = re.search(r"^Question: (.*)$", text, re.M).group(1)
    options = re.findall(r"^[A-J]\. (.*)$", text, re.M)
    return question, options


class ScriptedModel:
    """A ChatModel whose answer for each prompt is decided by a script of the question and the
    options as presented (so cyclic shifts change what a position-biased script answers)."""

    def __init__(self, items, script, logprob_script=None, id="scripted"):
        self.id = id
        self.by_question = {it.question: it for it in items}
        self.script, self.logprob_script = script, logprob_script
        self.seen = []

    def _lookup(self, conv):
        question, options = presented(conv)
        item = self.by_question[question]
        gold_content = item.options[LETTERS.index(item.answer)]
        return item, options, LETTERS[options.index(gold_content)]

    def generate(self, conversations, params):
        self.seen.extend(conversations)
        out = []
        for conv in conversations:
            item, options, gold = self._lookup(conv)
            out.append(Generation(text=self.script(item, options, gold), finish_reason="stop"))
        return out

    def next_token_logprobs(self, conversations, candidates):
        out = []
        for conv in conversations:
            item, options, gold = self._lookup(conv)
            pick = self.logprob_script(item, options, gold)
            out.append({c: (-0.1 if c == pick else -3.0 - LETTERS.index(c)) for c in candidates})
        return out


def letter_of(options, content):
    return LETTERS[options.index(content)]


def base_script(item, options, gold):
    n = item.line  # fixture line = question number
    j = lambda letter, why="Because.": json.dumps({"answer": letter, "explanation": why})
    if n == 1:  # always the right content, strict JSON
        return j(gold)
    if n == 2:  # position bias: always "A"
        return j("A")
    if n == 3:  # right content, near-JSON in a code fence with single quotes and a trailing comma
        return f"```json\n{{'answer': '{gold}', 'explanation': 'it is',}}\n```"
    if n == 4:  # always the content of original option A (wrong, but consistent)
        return j(letter_of(options, item.options[0]))
    if n == 5:  # no answer at all
        return "I am not sure about this one."
    if n == 6:  # right content, in prose mentioning other letters
        return f"Option A looks plausible and C is close, but the correct answer is {gold}."
    if n == 7:  # right content in the field; the explanation names other letters
        return j(gold, "Not A, and the answer is not D either; B is wrong.")
    return j("D")  # 8: always "D"


def test_scripted_exam_with_permutations_gives_hand_computed_numbers():
    items, info = mcq.load_exam(EXAMS / "exam8.jsonl")
    assert [it.answer for it in items] == list("ABCDABCD") and info["kind"] == "file"
    model = ScriptedModel(items, base_script, logprob_script=lambda it, o, g: "A" if it.line == 2 else g)
    result = mcq.run_exam({"base": model}, items, formats="zero-answer-json", permutations=True, scoring="both")
    s = result["models"]["base"]["summary"]["zero-answer-json"]

    # Correct per shift: s0 q1 q3 q6 q7 q8 = 5; s1, s2: q1 q3 q6 q7 = 4; s3: + q2 (gold moved to A) = 5.
    assert s["accuracy"]["k"] == 5 and s["accuracy"]["n"] == 8 and s["accuracy"]["value"] == 0.625
    assert [s["per_shift"][str(k)]["k"] for k in range(4)] == [5, 4, 4, 5]
    assert s["accuracy_all_shifts"]["k"] == 18 and s["accuracy_all_shifts"]["n"] == 32
    assert s["per_area"]["Formation"]["value"] == 0.5 and s["per_area"]["Remedies"]["value"] == 0.75
    lo, hi = s["accuracy"]["ci"]
    assert 0.30 < lo < 0.31 and 0.86 < hi < 0.87  # Wilson 5/8
    # Adherent: q1 q2 q4 q7 q8 in all 4 shifts = 20 of 32; q3 repaired, q5 nothing, q6 prose.
    assert s["adherence"]["k"] == 20 and s["adherence"]["n"] == 32
    assert s["invalid"]["k"] == 4
    assert s["methods"] == {"format": 20, "repaired": 4, "none": 4, "cue": 4}
    # Same option content under all shifts: q1 q3 q4 q6 q7 (q2, q8 follow a letter; q5 invalid).
    assert s["consistency"]["k"] == 5 and s["consistency"]["n"] == 8
    # Letters: q2 says A four times, q8 D four times, q1 q3 q4 q6 q7 each letter once, q5 invalid.
    assert s["letters"]["chosen"] == {"A": 9, "B": 5, "C": 5, "D": 9, "invalid": 4}
    assert s["letters"]["gold"] == {"A": 8, "B": 8, "C": 8, "D": 8}
    # Recall per gold letter: 4 always-right items + q2 (gold A at s3) / q8 (gold D at s0).
    assert s["letter_recall"] == {"A": 0.625, "B": 0.5, "C": 0.5, "D": 0.625}
    assert s["letter_recall_std"] == pytest.approx(0.0625)
    # Log-prob picks the right content except q2 ("A"): 7/8 as written; agrees with the generated
    # choice for q1 q2 q3 q6 q7 in all shifts (20) + q8 at s0 (1) = 21 of 32.
    lp = result["models"]["base"]["summary"]["logprob"]
    assert lp["accuracy"]["k"] == 7 and lp["adherence"]["value"] == 1.0
    assert s["logprob_agreement"]["k"] == 21 and s["logprob_agreement"]["n"] == 32
    # Stored records carry what reproduces all this.
    rec = result["models"]["base"]["records"][2]
    assert {"raw", "letter", "adherent", "method", "gold", "order", "shift", "choice", "correct"} <= set(rec)
    assert mcq.rescore(json.loads(json.dumps(result))) == json.loads(json.dumps(result))


def test_base_vs_tuned_mcnemar_is_exact_for_few_discordant_pairs():
    items, _ = mcq.load_exam(EXAMS / "exam8.jsonl")
    base = ScriptedModel(items, base_script)
    tuned = ScriptedModel(items, lambda it, o, g: json.dumps({"answer": g, "explanation": "x"}), id="tuned")
    result = mcq.run_exam({"base": base, "tuned": tuned}, items, formats=["zero-answer-json"])
    c = result["comparisons"]["tuned"]["zero-answer-json"]
    # base 5/8, tuned 8/8: discordant pairs b=0, c=3 -> exact two-sided p = 2 * 0.5**3 = 0.25
    assert (c["base_accuracy"], c["tuned_accuracy"], c["difference"]) == (0.625, 1.0, 0.375)
    m = c["mcnemar"]
    assert (m["base_only"], m["tuned_only"], m["method"]) == (0, 3, "exact-binomial")
    assert m["p_value"] == pytest.approx(0.25)


@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=lambda f: f.name)
def test_a_model_answering_in_the_requested_format_is_fully_adherent(fmt):
    items, _ = mcq.load_exam(EXAMS / "exam8.jsonl")
    pool, _ = mcq.load_exam(EXAMS / "shots.jsonl")
    script = lambda it, o, g: render_answer(g, "Option B is tempting, but the answer is not C. See D.", fmt)
    model = ScriptedModel(items, script)
    result = mcq.run_exam({"base": model}, items, formats=[fmt], shot_pool=pool, n_shots=2)
    s = result["models"]["base"]["summary"][fmt.name]
    assert s["adherence"]["value"] == 1.0 and s["accuracy"]["value"] == 1.0
    if fmt.shots == "few":
        conv = model.seen[1]  # exam question 2 has a near-identical twin in the shot pool
        assert len(conv) == 5 and "posted   acceptance" not in json.dumps(conv)
        first_shot = mcq.pick_shots(items[1], pool, 2)[0]
        assert conv[1]["content"] == render_answer(first_shot.answer, "A short reason.", fmt)
    else:
        assert len(model.seen[0]) == 1


def test_shots_never_include_the_question_and_are_stable():
    items, _ = mcq.load_exam(EXAMS / "exam8.jsonl")
    pool, _ = mcq.load_exam(EXAMS / "shots.jsonl")
    for it in items:
        shots = mcq.pick_shots(it, pool, 3)
        assert len(shots) == 3 and all(" ".join(s.question.split()).lower() != it.question.lower() for s in shots)
        assert shots == mcq.pick_shots(it, pool, 3)
    assert len(mcq.pick_shots(items[1], pool, 10)) == 3  # its twin is excluded


def test_few_shot_without_examples_is_a_clear_error():
    items, _ = mcq.load_exam(EXAMS / "exam8.jsonl")
    with pytest.raises(InputError, match="--shots-from"):
        mcq.run_exam({"base": ScriptedModel(items, base_script)}, items, formats="few-answer-json")


def test_bad_exam_file_names_line_and_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "Q?", "options": ["a", "b"], "answer": "C"}) + "\n"
                   + json.dumps({"question": "Q2?", "options": ["a"], "answer": "A"}) + "\n")
    with pytest.raises(InputError) as err:
        mcq.load_exam(bad)
    assert "bad.jsonl:1" in str(err.value) and "outside the options" in str(err.value)
    assert "bad.jsonl:2" in str(err.value) and "options" in str(err.value)
    with pytest.raises(InputError, match="no such file"):
        mcq.load_exam(tmp_path / "missing.jsonl")


def test_exam_by_registered_eval_set_name(ws):
    from expertune.data.evalsets import add_evalset

    add_evalset(ws, EXAMS / "exam8.jsonl", name="exam8")
    items, info = mcq.load_exam("exam8", ws)
    assert len(items) == 8 and info["source"] == "evalset:exam8"


def test_report_section_is_self_contained_html():
    items, _ = mcq.load_exam(EXAMS / "exam8.jsonl")
    result = mcq.run_exam({"base": ScriptedModel(items, base_script)}, items, formats="zero-answer-json",
                          permutations=True)
    html = mcq.report_section(result)
    assert html.startswith("<section") and html.count("data:image/png;base64,") == 2
    assert "62.5%" in html
    # All wrong and all right (intervals touching 0 and 1) still chart.
    wrong = ScriptedModel(items, lambda it, o, g: json.dumps({"answer": "A" if g != "A" else "B"}))
    right = ScriptedModel(items, lambda it, o, g: json.dumps({"answer": g}))
    both = mcq.run_exam({"base": wrong, "tuned": right}, items, formats="zero-answer-json")
    assert mcq.report_section(both).count("data:image/png;base64,") == 3


def test_default_formats_fall_back_to_zero_shot_without_examples():
    fmts, note = mcq.choose_formats(None, have_shots=False)
    assert all(f.shots == "zero" for f in fmts) and "ran zero-shot" in note
    fmts, note = mcq.choose_formats(None, have_shots=True)
    assert any(f.shots == "few" for f in fmts) and note is None
    fmts, note = mcq.choose_formats("few-answer-json", have_shots=False)  # explicit: run_model will refuse
    assert [f.name for f in fmts] == ["few-answer-json"] and note is None


def test_failed_generations_are_reported_not_scored_as_wrong():
    items, _ = mcq.load_exam(EXAMS / "exam8.jsonl")

    class Flaky(ScriptedModel):
        def generate(self, conversations, params):
            out = super().generate(conversations, params)
            for conv, g in zip(conversations, out):
                if self._lookup(conv)[0].line == 5:  # question 5: the backend fails
                    g.text, g.finish_reason, g.error = "", "error", "HTTP 503"
            return out

    right = lambda it, o, g: json.dumps({"answer": g, "explanation": "x"})
    result = mcq.run_exam({"base": Flaky(items, right), "tuned": ScriptedModel(items, right)}, items,
                          formats="zero-answer-json", permutations=True)
    s = result["models"]["base"]["summary"]["zero-answer-json"]
    assert s["errors"] == 4 and (s["accuracy"]["k"], s["accuracy"]["n"]) == (7, 7)
    assert s["adherence"]["n"] == 28 and s["consistency"]["n"] == 7 and s["invalid"]["k"] == 0
    assert result["comparisons"]["tuned"]["zero-answer-json"]["mcnemar"]["n_items"] == 7


def test_permutations_give_each_item_its_own_cyclic_shifts_once():
    """A 2-option item next to a 4-option one is asked 2 shifts, not 4 (shift mod 2 repeats it),
    so it does not weigh double in the letter statistics."""
    from expertune.evaluate.tasks.exam_formats import ExamItem

    items = [ExamItem(id="two", question="Is it binding?", options=("yes", "no"), answer="A"),
             ExamItem(id="four", question="Which remedy?", options=("damages", "rescission", "specific", "none"), answer="C")]
    always_a = ScriptedModel(items, lambda item, options, gold: "A")
    result = mcq.run_exam({"base": always_a}, items, formats=["zero-answer-list"], permutations=True)
    recs = result["models"]["base"]["records"]
    shifts = {it.id: sorted(r["shift"] for r in recs if r["item"] == it.id) for it in items}
    assert shifts == {"two": [0, 1], "four": [0, 1, 2, 3]}
    s = result["models"]["base"]["summary"]["zero-answer-list"]
    assert s["letters"]["gold"] == {"A": 2, "B": 2, "C": 1, "D": 1}  # every option in every slot once per item
    assert s["letters"]["chosen"]["A"] == 6
    assert s["letter_recall"] == {"A": 1.0, "B": 0.0, "C": 0.0, "D": 0.0}
    assert s["consistency"]["n"] == 2 and s["consistency"]["k"] == 0  # both items answered with every slot's option
    assert result["config"]["shifts"] == [0, 1, 2, 3]
