"""Alpaca records, plain prompt/response pairs, and .json files holding an array of records."""

from pathlib import Path

from expertune.data.formats import parse_file
from expertune.data.records import Record, Reject

FIXTURES = Path(__file__).parent.parent / "fixtures" / "formats"


def test_alpaca_fixture():
    outcomes = list(parse_file(FIXTURES / "alpaca.jsonl", "alpaca"))
    assert [o.line for o in outcomes] == [1, 2, 3, 4, 5, 6]
    first, second, third, fourth, fifth, sixth = outcomes

    assert isinstance(first, Record)
    assert (first.prompt, first.response, first.system) == (
        "Summarise the clause.",
        "The tenant pays rent monthly.",
        None,
    )
    assert isinstance(second, Record)
    assert second.prompt == "Translate to German.\n\nGood morning"
    assert second.system == "You translate." and second.topic == "language"

    assert isinstance(third, Reject) and "missing field 'output'" in third.reason
    assert isinstance(fourth, Reject) and "field 'output' is empty" in fourth.reason
    assert isinstance(fifth, Reject) and "field 'instruction' must be a string" in fifth.reason

    assert isinstance(sixth, Record)
    assert sixth.prompt == "List two colours." and sixth.system is None


def test_json_array_uses_element_index_as_line():
    outcomes = list(parse_file(FIXTURES / "alpaca_array.json"))
    assert [o.line for o in outcomes] == [1, 2, 3]
    assert isinstance(outcomes[0], Record) and outcomes[0].response == "First answer."
    assert isinstance(outcomes[1], Reject)
    assert outcomes[1].reason.startswith("array element 2: field 'output' must be a string")
    assert isinstance(outcomes[2], Record)
    assert outcomes[2].prompt == "Third task.\n\nwith input"


def test_broken_json_array_is_one_reject_at_the_error_line(tmp_path: Path):
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"instruction": "a", "output": "b"},\n  {"instruction": }\n]\n')
    outcomes = list(parse_file(path))
    assert len(outcomes) == 1
    assert isinstance(outcomes[0], Reject) and outcomes[0].line == 3
    assert outcomes[0].reason.startswith("not a valid JSON array")


def test_json_file_with_one_record_per_line_is_read_as_json_lines(tmp_path: Path):
    path = tmp_path / "lines.json"
    path.write_text('{"prompt": "a", "response": "b"}\n{"prompt": "c", "response": "d"}\n')
    assert [o.prompt for o in parse_file(path) if isinstance(o, Record)] == ["a", "c"]


def test_mixed_file_detects_each_record():
    outcomes = list(parse_file(FIXTURES / "mixed.jsonl"))
    records = [o for o in outcomes if isinstance(o, Record)]
    assert [(r.line, r.prompt.split("\n")[0], r.response.split("\n")[0]) for r in records] == [
        (1, "m?", "m."),
        (2, "s?", "s."),
        (3, "a?", "a."),
        (4, "q?", "Answer: A. yes"),
        (5, "p?", "p."),
        (6, "c?", "c."),
    ]
    assert records[3].mcq is not None
    rejects = {o.line: o.reason for o in outcomes if isinstance(o, Reject)}
    assert "both 'response' and 'completion'" in rejects[7]
    assert "missing field 'response'" in rejects[8]
    assert "cannot tell the record's format from its keys ('text', 'label')" in rejects[9]
    assert rejects[10] == "expected a JSON object holding one record, got string"
    assert rejects[11] == "expected a JSON object holding one record, got array"


def test_explicit_format_does_not_guess(tmp_path: Path):
    path = tmp_path / "chat.jsonl"
    path.write_text('{"prompt": "a", "response": "b"}\n')
    [outcome] = parse_file(path, "alpaca")
    assert isinstance(outcome, Reject) and "missing field 'instruction'" in outcome.reason
