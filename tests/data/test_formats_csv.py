"""CSV and TSV files: header matching, column mappings and per-row rejects."""

from pathlib import Path

import pytest

from expertune.data.formats import parse_file
from expertune.data.records import Record, Reject
from expertune.errors import InputError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "formats"


def test_csv_fixture_rows_and_line_numbers():
    outcomes = list(parse_file(FIXTURES / "qa.csv", default_topic="general"))
    # Line 5 is blank and line 10 has only empty cells: neither is a record.
    assert [o.line for o in outcomes] == [2, 3, 6, 7, 8, 9, 11]

    vat = outcomes[0]
    assert isinstance(vat, Record)
    assert (vat.prompt, vat.response, vat.topic) == ("What is VAT?", "A consumption tax.", "tax")
    assert vat.rating == 4 and vat.preferred is True
    assert vat.tags == ["vat", "basics"]
    assert vat.meta == {"extra": {"Notes": "from FAQ"}}

    multi = outcomes[1]
    assert isinstance(multi, Record)
    assert multi.prompt == "Explain\nmulti-line"
    assert multi.topic == "general" and multi.rating is None and multi.meta is None

    last = outcomes[-1]
    assert isinstance(last, Record) and last.rating == 1 and last.preferred is False

    reasons = {
        6: "row has 2 fields but the header has 7",
        7: "empty prompt in column 'Question'",
        8: "rating 'seven' in column 'Score' must be a whole number from 1 to 5",
        9: "preferred 'maybe' in column 'Preferred'",
    }
    for outcome in outcomes[2:-1]:
        assert isinstance(outcome, Reject)
        assert reasons[outcome.line] in outcome.reason


def test_tsv_with_system_column():
    outcomes = list(parse_file(FIXTURES / "qa.tsv"))
    assert [(o.line, o.prompt, o.response, o.system) for o in outcomes] == [
        (2, "Hola", "Hello", "Translate to English."),
        (3, "Uno", "One", None),
    ]


def test_semicolon_header_is_sniffed():
    [record] = parse_file(FIXTURES / "semicolon.csv")
    assert isinstance(record, Record) and (record.prompt, record.response) == ("Wie?", "So.")


def test_unknown_columns_need_a_mapping():
    with pytest.raises(InputError) as err:
        parse_file(FIXTURES / "custom_columns.csv")
    message = str(err.value)
    assert "'Q text', 'Expert reply', 'Area'" in message
    assert "--map prompt=Question,response=Answer" in message


def test_mapping_names_columns_case_insensitively_and_others_still_match():
    csv_map = {"prompt": "q TEXT", "response": "Expert reply"}
    [record] = parse_file(FIXTURES / "custom_columns.csv", csv_map=csv_map)
    assert isinstance(record, Record)
    assert (record.prompt, record.response, record.topic) == ("Why?", "Because.", "philosophy")


def test_bad_mappings_raise():
    with pytest.raises(InputError, match="'Missing' .*not in the header"):
        parse_file(FIXTURES / "qa.csv", csv_map={"prompt": "Missing"})
    with pytest.raises(InputError, match="unknown field 'answer'"):
        parse_file(FIXTURES / "qa.csv", csv_map={"answer": "Answer"})
    with pytest.raises(InputError, match="only applies to CSV/TSV"):
        parse_file(FIXTURES / "mcq.jsonl", csv_map={"prompt": "question"})


def test_empty_csv_raises(tmp_path: Path):
    path = tmp_path / "empty.csv"
    path.write_text("\n\n")
    with pytest.raises(InputError, match="empty"):
        parse_file(path)


def test_invalid_utf8_row_is_rejected_alone(tmp_path: Path):
    path = tmp_path / "bytes.csv"
    path.write_bytes(b"\xef\xbb\xbfprompt,response\r\nok,fine\r\nbad \xff,x\r\nalso ok,good\r\n")
    outcomes = list(parse_file(path))
    assert [type(o).__name__ for o in outcomes] == ["Record", "Reject", "Record"]
    assert outcomes[1] == Reject(3, "row is not valid UTF-8; re-save the file as UTF-8")
    assert outcomes[0].prompt == "ok"  # the BOM and the CRs are gone


def test_author_and_tags_columns(tmp_path: Path):
    path = tmp_path / "people.csv"
    path.write_text('prompt,response,author,tags,category\nq,a,Dr. Lee,"x, y, x",ops\n')
    [record] = parse_file(path)
    assert isinstance(record, Record)
    assert (record.author, record.author_kind, record.tags) == ("Dr. Lee", "human", ["x", "y"])
    assert record.topic == "ops"


def test_forced_csv_format_on_other_extension(tmp_path: Path):
    path = tmp_path / "export.txt"
    path.write_text("instruction,output\nDo it,Done\n")
    [record] = parse_file(path, "csv")
    assert isinstance(record, Record) and record.prompt == "Do it"
