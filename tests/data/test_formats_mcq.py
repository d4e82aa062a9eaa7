"""Multiple-choice records keep their fields and render as a lettered prompt and answer."""

from pathlib import Path

from expertune.data.formats import parse_file, parse_record
from expertune.data.records import Mcq, Record, Reject

FIXTURES = Path(__file__).parent.parent / "fixtures" / "formats"


def _by_line() -> dict[int, Record | Reject]:
    return {o.line: o for o in parse_file(FIXTURES / "mcq.jsonl", "mcq", default_topic="general")}


def test_full_item_renders_prompt_and_response():
    record = _by_line()[1]
    assert isinstance(record, Record)
    assert record.prompt == "Capital of France?\n\nA. Berlin\nB. Paris\nC. Rome\nD. Madrid"
    assert record.response == (
        "Answer: B. Paris\n\nExplanation: Paris has been the capital since 987."
    )
    assert record.mcq == Mcq(
        question="Capital of France?",
        options=["Berlin", "Paris", "Rome", "Madrid"],
        answer="B",
        area="geography",
        explanation="Paris has been the capital since 987.",
    )
    assert record.topic == "geography"  # area is the topic when there is none


def test_answer_spellings_resolve_to_a_letter():
    outcomes = _by_line()
    answers = {line: outcomes[line].mcq.answer for line in (2, 3, 4, 5, 11)}
    assert answers == {2: "C", 3: "D", 4: "A", 5: "B", 11: "A"}
    assert outcomes[2].response == "Answer: C. 4"
    assert outcomes[2].topic == "general"  # default topic when neither topic nor area
    assert outcomes[11].topic == "philosophy"  # an explicit topic beats the area


def test_bad_items_are_rejected():
    outcomes = _by_line()
    expected = {
        6: "answer 'E' is outside the options (A to D)",
        7: "options[2] repeats options[0]",
        8: "field 'options' must be a list of 2 to 10 strings, got 1",
        9: "options[1] is empty",
        10: "answer index 7 is outside the options (0 to 1)",
        12: "answer 'maybe' is not an option letter (A to B)",
    }
    for line, reason in expected.items():
        outcome = outcomes[line]
        assert isinstance(outcome, Reject), line
        assert reason in outcome.reason, (line, outcome.reason)


def test_missing_and_mistyped_fields():
    base = {"question": "Q", "options": ["x", "y"], "answer": "A"}
    cases = {
        "missing field 'answer'": {k: v for k, v in base.items() if k != "answer"},
        "missing field 'options'": {"question": "Q", "answer": "A"},
        "field 'answer' must be a letter": {**base, "answer": 1.5},
        "options[1] must be a string": {**base, "options": ["x", 2]},
        "got 11": {**base, "options": [str(i) for i in range(11)]},
        "field 'area' must be a string": {**base, "area": ["geo"]},
        "field 'question' is empty": {**base, "question": " "},
    }
    for reason, obj in cases.items():
        outcome = parse_record(obj, 1, "mcq")
        assert isinstance(outcome, Reject), reason
        assert reason in outcome.reason, (reason, outcome.reason)


def test_ten_options_and_letter_j():
    options = [f"option {i}" for i in range(10)]
    record = parse_record({"question": "Q", "options": options, "answer": "j"}, 1, "mcq")
    assert isinstance(record, Record)
    assert record.mcq is not None and record.mcq.answer == "J"
    assert record.response == "Answer: J. option 9"
