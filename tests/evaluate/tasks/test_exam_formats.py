"""Answer extraction: malformed, near-format and adversarial replies for every format."""

import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from expertune.errors import InputError
from expertune.evaluate.tasks.exam_formats import (
    ALL_FORMATS,
    DEFAULT_FORMATS,
    ExamFormat,
    ExamItem,
    letter_prompt,
    parse_answer,
    parse_formats,
    render_answer,
    render_conversation,
)

OPTIONS = ["An invitation to treat", "An offer", "A unilateral offer", "A binding option"]
FMTS = {f.name: f for f in ALL_FORMATS}
SETTINGS = settings(max_examples=int(__import__("os").environ.get("EXAM_EXAMPLES", 60)), deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Pieces that look like answers, fields and syntax, so random text hits the parsers' edge cases.
FRAGMENTS = st.sampled_from([
    "A", "B", "C", "D", "E", "(B)", "B.", "the answer is C", "Answer: D", "answer is A", "## Answer", "## Explanation",
    "1. Answer: B", "2. Explanation:", "{", "}", '"answer"', "'answer'", ":", ",", '"', "'", "```", "```json",
    "\n", " ", "option A", "correct option is", "not B", "I choose", "A contract", "**", "#", "null", "[", "]",
    "{{{{{{{{{{", "\\", "An offer", "final answer:",
])
NOISE = st.lists(st.one_of(FRAGMENTS, st.text(max_size=8)), max_size=25).map(" ".join)
PROSE_WITH_LETTERS = st.lists(st.sampled_from([
    "A is tempting,", "but C fails", "the answer is D", "Answer: A", "not B.", "Option C is wrong",
    "correct answer is B", "see (A) and (D)", "I choose C", "A contract needs consideration.", "final answer: D",
]), min_size=1, max_size=6).map(" ".join)


def test_twelve_formats_and_names():
    assert len(ALL_FORMATS) == 12 and len({f.name for f in ALL_FORMATS}) == 12
    assert ExamFormat.parse("few-shot/explanation-first/markdown") == ExamFormat("few", "explain", "markdown")
    assert ExamFormat.parse("zs-af-numbered") == ExamFormat("zero", "answer", "list")
    assert [f.name for f in parse_formats(None)] == list(DEFAULT_FORMATS)
    assert len(parse_formats("all")) == 12
    assert [f.name for f in parse_formats("zero-answer-json, zero-answer-json,few-explain-list")] == [
        "zero-answer-json", "few-explain-list"]
    with pytest.raises(InputError, match="unknown part 'yaml'"):
        parse_formats("zero-answer-yaml")
    with pytest.raises(InputError, match="missing style"):
        parse_formats("zero-answer")


def test_prompts_state_the_format_and_order():
    item = ExamItem("x", "Q?", tuple(OPTIONS), "A", explanation="Because.")
    conv = render_conversation("Which?", OPTIONS, FMTS["few-explain-json"], [item])
    assert [m["role"] for m in conv] == ["user", "assistant", "user"]
    assert conv[1]["content"] == '{"explanation": "Because.", "answer": "A"}'
    assert "D. A binding option" in conv[-1]["content"] and '"explanation": "<reasoning>", "answer"' in conv[-1]["content"]
    assert render_answer("B", "why\nnot", FMTS["zero-answer-markdown"]) == "## Answer\nB\n\n## Explanation\nwhy not"
    assert render_answer("B", "why", FMTS["zero-explain-list"]) == "1. Explanation: why\n2. Answer: B"
    assert letter_prompt("Q?", OPTIONS)[-1]["content"].endswith("letter of the correct option only.")


@pytest.mark.parametrize("text,fmt,letter,adherent,method", [
    ('{"answer": "B", "explanation": "A is tempting but C"}', "zero-answer-json", "B", True, "format"),
    ('{"Answer": "(c)", "explanation": "x"}', "zero-answer-json", "C", True, "format"),
    ('{"answer": "B. An offer"}', "zero-answer-json", "B", True, "format"),
    ('{"answer": "An offer"}', "zero-answer-json", "B", True, "format"),
    ("```json\n{\"answer\": \"D\"}\n```", "zero-answer-json", "D", False, "repaired"),
    ("```json\n{'answer': 'C', 'explanation': 'it is',}\n```", "zero-answer-json", "C", False, "repaired"),
    ('{"explanation": "the answer is A, not D", "answer": "D"', "zero-explain-json", "D", False, "repaired"),
    ('{"explanation": "unterminated, "answer": "C', "zero-explain-json", "C", False, "repaired"),
    ('{answer: "B", explanation: "x",}', "zero-answer-json", "B", False, "repaired"),
    ('{\u201canswer\u201d: \u201cA\u201d}', "zero-answer-json", "A", False, "repaired"),
    ('Sure! The answer is C.\n{"answer": "B", "explanation": "x"}', "zero-answer-json", "B", False, "repaired"),
    ('{"answer": "E"}', "zero-answer-json", None, False, "none"),
    ("## Explanation\nThe answer is C? No.\n\n## Answer\nB", "zero-explain-markdown", "B", True, "format"),
    ("## Answer: **D**\n\n## Explanation\nx", "zero-answer-markdown", "D", True, "format"),
    ("## Answer\nB\n\n## Answer\nC", "zero-answer-markdown", None, False, "ambiguous"),
    ("**Answer:** D\n\nBecause A fails.", "zero-answer-markdown", "D", False, "repaired"),
    ("1. Answer: (C) A unilateral offer\n2. Explanation: A and B fail", "zero-answer-list", "C", True, "format"),
    ("1. Explanation: see A.\n2. Answer: D", "zero-explain-list", "D", True, "format"),
    ("1. Explanation: see A. 2. Answer: D", "zero-explain-list", "D", False, "repaired"),
    ('{"answer": "A"}', "zero-answer-list", "A", False, "other-format"),
    ("The correct answer is B because A fails.", "zero-answer-list", "B", False, "cue"),
    ("The answer to the question is C. An invitation to treat.", "zero-answer-markdown", "C", False, "cue"),
    ("The answer is:\nD. A binding option", "zero-answer-json", "D", False, "cue"),
    ("The answer is B. Some say the answer is C.", "zero-answer-json", None, False, "ambiguous"),
    ("A contract is formed when the offer is accepted.", "zero-answer-list", None, False, "none"),
    ("A is tempting but C fails and D is odd.", "zero-answer-json", None, False, "none"),
    ("B", "zero-answer-json", "B", False, "bare"),
    ("(d).", "zero-answer-json", "D", False, "bare"),
    ("C. A unilateral offer", "zero-answer-markdown", "C", False, "bare"),
    ("an offer", "zero-answer-json", "B", False, "option-text"),
    ("", "zero-answer-json", None, False, "none"),
])
def test_extraction_examples(text, fmt, letter, adherent, method):
    p = parse_answer(text, fmt, OPTIONS)
    assert (p.letter, p.adherent, p.method) == (letter, adherent, method)


def test_non_text_and_huge_replies_do_not_raise():
    assert parse_answer(None, "zero-answer-json", OPTIONS).letter is None
    assert parse_answer("{" * 5000 + "'answer': 'B'", "zero-answer-json", OPTIONS).letter == "B"
    assert parse_answer("[" * 100000, "zero-answer-json", OPTIONS).letter is None
    assert parse_answer("x" * 200000 + '"answer": "C"', "zero-answer-json", OPTIONS).method in ("none", "repaired")


@SETTINGS
@given(text=st.one_of(st.text(max_size=300), NOISE), fmt=st.sampled_from(ALL_FORMATS),
       n=st.integers(min_value=2, max_value=10))
def test_parsers_never_raise_and_only_return_valid_letters(text, fmt, n):
    options = [f"option text {i}" for i in range(n)]
    p = parse_answer(text, fmt, options)
    assert p.letter is None or p.letter in "ABCDEFGHIJ"[:n]
    assert not p.adherent or p.letter is not None


@SETTINGS
@given(letter=st.sampled_from("ABCD"), why=st.one_of(st.text(max_size=200), NOISE, PROSE_WITH_LETTERS),
       fmt=st.sampled_from(ALL_FORMATS))
def test_valid_answers_are_always_extracted(letter, why, fmt):
    reply = render_answer(letter, why, fmt)
    # A Markdown explanation that is itself an Answer heading is no longer one valid answer.
    assume(fmt.style != "markdown" or not " ".join(why.split()).startswith("#"))
    p = parse_answer(reply, fmt, OPTIONS)
    assert (p.letter, p.adherent) == (letter, True)


@SETTINGS
@given(letter=st.sampled_from("ABCD"), prose=PROSE_WITH_LETTERS, fmt=st.sampled_from(ALL_FORMATS),
       where=st.sampled_from(["inside", "before", "after"]))
def test_prose_with_other_letters_never_overrides_the_answer_field(letter, prose, fmt, where):
    if where == "inside":
        reply = render_answer(letter, prose, fmt)
    elif where == "before":
        reply = f"{prose}\n\n{render_answer(letter, 'short', fmt)}"
    else:
        reply = f"{render_answer(letter, 'short', fmt)}\n\n{prose}"
    p = parse_answer(reply, fmt, OPTIONS)
    if fmt.style == "json" and where != "inside":
        assert p.letter == letter and p.method == "repaired"  # the object is found within the prose
    else:
        assert p.letter == letter


@SETTINGS
@given(letter=st.sampled_from("ABCD"), why=st.text(alphabet="abc xyz.,'", max_size=40),
       damage=st.sampled_from(["single", "trailing", "fence", "unclosed", "prefix"]))
def test_near_json_is_repaired(letter, why, damage):
    body = json.dumps({"answer": letter, "explanation": why})
    if damage == "single":
        body = "{'answer': '%s', 'explanation': %r}" % (letter, why)
    elif damage == "trailing":
        body = body[:-1] + ",}"
    elif damage == "fence":
        body = f"```json\n{body}\n```"
    elif damage == "unclosed":
        body = body[:-1]
    else:
        body = f"Here is my answer:\n{body}"
    p = parse_answer(body, "zero-answer-json", OPTIONS)
    assert p.letter == letter and p.method == "repaired" and not p.adherent
