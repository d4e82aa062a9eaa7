"""The package API: format detection, file reading rules, whole-file errors and group keys."""

import json
from pathlib import Path

import pytest

from expertune.data.formats import FORMATS, detect_format, parse_file, parse_record
from expertune.data.records import Record, Reject
from expertune.errors import InputError


def _pair(prompt: str, response: str, **fields: object) -> str:
    return json.dumps({"prompt": prompt, "response": response, **fields})


def test_formats_tuple():
    assert FORMATS == ("messages", "sharegpt", "alpaca", "csv", "transcript", "mcq")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.csv", "csv"),
        ("a.TSV", "csv"),
        ("a.txt", "transcript"),
        ("a.md", "transcript"),
        ("a.jsonl", "jsonl-auto"),
        ("a.json", "jsonl-auto"),
        ("data", "jsonl-auto"),
    ],
)
def test_detect_format(name: str, expected: str):
    assert detect_format(Path(name)) == expected


def test_detected_json_format_name_is_accepted_back(tmp_path: Path):
    path = tmp_path / "data.jsonl"
    path.write_text(_pair("a", "b") + "\n")
    [record] = parse_file(path, detect_format(path))
    assert isinstance(record, Record) and record.prompt == "a"


def test_whole_file_problems_raise(tmp_path: Path):
    with pytest.raises(InputError, match="file not found"):
        parse_file(tmp_path / "missing.jsonl")
    with pytest.raises(InputError, match="cannot read"):
        parse_file(tmp_path)
    with pytest.raises(InputError, match="unknown format 'yaml'"):
        parse_file(tmp_path / "x.jsonl", "yaml")
    with pytest.raises(InputError, match="unknown JSON record format 'csv'"):
        parse_record({}, 1, "csv")


def test_bom_crlf_blank_lines_and_bad_utf8(tmp_path: Path):
    path = tmp_path / "data.jsonl"
    line1 = _pair("a", "b").encode()
    path.write_bytes(b"\xef\xbb\xbf" + line1 + b"\r\n \t\r\n\r\n" + b'{"prompt": "\xc3(x"}\n')
    outcomes = list(parse_file(path))
    assert len(outcomes) == 2
    assert isinstance(outcomes[0], Record) and outcomes[0].prompt == "a"
    bad_offset = 3 + len(line1) + 2 + 4 + 2 + len(b'{"prompt": "')
    assert outcomes[1] == Reject(
        4, f"not valid UTF-8 (byte offset {bad_offset}); re-save the file as UTF-8"
    )


def test_lone_surrogate_escape_is_rejected(tmp_path: Path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"prompt": "\\ud800", "response": "b"}\n')
    [outcome] = parse_file(path)
    assert isinstance(outcome, Reject) and "surrogate" in outcome.reason


def test_deeply_nested_json_is_rejected(tmp_path: Path):
    path = tmp_path / "deep.jsonl"
    path.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    [outcome] = parse_file(path)
    assert isinstance(outcome, Reject) and outcome.reason.startswith("not valid JSON")


def test_record_too_deep_to_store_is_rejected(tmp_path: Path):
    path = tmp_path / "deep.jsonl"
    path.write_text('{"prompt": "a", "response": "b", "meta": ' + '{"x": ' * 990 + "1" + "}" * 991)
    [outcome] = parse_file(path)
    assert isinstance(outcome, Reject) and "nested too deeply" in outcome.reason


def test_default_topic_only_fills_a_missing_topic(tmp_path: Path):
    path = tmp_path / "data.jsonl"
    path.write_text(_pair("a", "b") + "\n" + _pair("c", "d", topic="law") + "\n")
    assert [o.topic for o in parse_file(path, default_topic="tax")] == ["tax", "law"]


def test_same_prompt_across_formats_shares_a_group(tmp_path: Path):
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(
        _pair("What  is\nVAT?", "A tax.")
        + "\n"
        + '{"messages": [{"role": "user", "content": " What is VAT? "},'
        ' {"role": "assistant", "content": "A consumption tax."}]}\n'
    )
    csv = tmp_path / "b.csv"
    csv.write_text('question,answer\n"What is\tVAT?",A tax.\n')
    transcript = tmp_path / "c.txt"
    transcript.write_text("User: What is VAT?\nAssistant: Tax on spending.\n")
    records = [*parse_file(jsonl), *parse_file(csv), *parse_file(transcript)]
    assert all(isinstance(r, Record) for r in records)
    assert len({r.group_key() for r in records}) == 1
    # The CSV row repeats the first response, so it is the same response; the others differ.
    assert len({r.response_key() for r in records}) == 3


def test_system_and_context_change_the_group():
    base = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    with_system = {"messages": [{"role": "system", "content": "S"}, *base["messages"]]}
    with_context = {
        "messages": [
            {"role": "user", "content": "earlier"},
            {"role": "assistant", "content": "reply"},
            *base["messages"],
        ]
    }
    records = [parse_record(obj, 1, "messages") for obj in (base, with_system, with_context)]
    keys = {record.group_key() for record in records}
    assert len(keys) == 3
