"""Property tests: no input makes a parser raise, and every record yields exactly one outcome."""

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expertune.data.formats import parse_file, parse_record
from expertune.data.records import Record, Reject, Turn
from expertune.errors import InputError

SETTINGS = settings(max_examples=200, deadline=None)
FORMATS = ["auto", "messages", "sharegpt", "alpaca", "mcq"]
# Known keys make generated objects reach the parsers' deeper checks, not just format detection.
KEYS = [
    "messages", "conversations", "instruction", "input", "output", "question", "options",
    "answer", "prompt", "response", "completion", "system", "role", "content", "from", "value",
    "topic", "tags", "rating", "preferred", "meta", "model", "author", "gen_params", "type", "text",
]  # fmt: skip
lone_surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | lone_surrogates,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), children, max_size=6),
    max_leaves=15,
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Hypothesis runs examples one at a time, so every example may overwrite the same file.
    return tmp_path_factory.mktemp("formats")


def _write(workdir: Path, data: bytes, suffix: str) -> Path:
    path = workdir / f"input{suffix}"
    path.write_bytes(data)
    return path


def _non_blank_lines(data: bytes) -> int:
    """Lines that must each yield an outcome: undecodable ones and ones with visible text."""
    count = 0
    for raw in data.removeprefix(b"\xef\xbb\xbf").split(b"\n"):
        try:
            count += bool(raw.removesuffix(b"\r").decode("utf-8").strip())
        except UnicodeDecodeError:
            count += 1
    return count


def _assert_storable(outcomes: list) -> None:
    """Records can be keyed and reasons printed: no lone surrogate got through."""
    for outcome in outcomes:
        if isinstance(outcome, Record):
            outcome.response_key()
        else:
            assert isinstance(outcome, Reject)
            outcome.reason.encode("utf-8")


def _assert_lines_ok(outcomes: list, data: bytes) -> None:
    lines = [o.line for o in outcomes]
    assert lines == sorted(set(lines))  # distinct and in file order
    assert all(1 <= line <= data.count(b"\n") + 1 for line in lines)
    _assert_storable(outcomes)


# --- JSON Lines ------------------------------------------------------------------------------

line_bytes = st.binary(max_size=60) | st.sampled_from(
    [b"", b"  ", b"\r", b"\xef\xbb\xbf", b"{}", b"[]", b'{"prompt": "a", "response": "b"}', b"\xff"]
)


@SETTINGS
@given(st.lists(line_bytes, max_size=12))
def test_arbitrary_bytes_yield_one_outcome_per_non_blank_line(workdir: Path, lines: list[bytes]):
    data = b"\n".join(lines)
    outcomes = list(parse_file(_write(workdir, data, ".jsonl")))
    assert len(outcomes) == _non_blank_lines(data)
    _assert_lines_ok(outcomes, data)


@SETTINGS
@given(st.lists(json_values, max_size=10), st.sampled_from(FORMATS), st.booleans())
def test_arbitrary_json_values_yield_one_outcome_each(
    workdir: Path, values: list, fmt: str, ascii_only: bool
):
    # Unescaped lone surrogates become bytes that are not UTF-8: those lines must be rejected too.
    text = "\n".join(json.dumps(v, ensure_ascii=ascii_only) for v in values)
    path = _write(workdir, text.encode("utf-8", "surrogatepass"), ".jsonl")
    outcomes = list(parse_file(path, fmt))
    assert [o.line for o in outcomes] == list(range(1, len(values) + 1))
    _assert_storable(outcomes)
    _assert_storable([parse_record(value, 1, fmt) for value in values])


@SETTINGS
@given(json_values)
def test_any_json_array_file_yields_one_outcome_per_element(workdir: Path, value):
    path = _write(workdir, json.dumps([value, value]).encode(), ".json")
    assert [o.line for o in parse_file(path)] == [1, 2]


# --- generated messages records, some corrupted ------------------------------------------

visible_text = st.text(min_size=1, max_size=30).filter(str.strip)
conversations = st.tuples(
    st.none() | visible_text,  # system
    st.lists(st.tuples(visible_text, visible_text), min_size=1, max_size=4),  # (user, assistant)
)
CORRUPTIONS = [None, "drop_turn", "change_role", "empty_content", "wrong_type"]


def _messages(system: str | None, pairs: list[tuple[str, str]]) -> list[dict]:
    turns = [{"role": "system", "content": system}] if system is not None else []
    for user, assistant in pairs:
        turns += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return turns


def _corrupt(turns: list[dict], how: str, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(turns) - 1))
    if how == "drop_turn":
        del turns[index]
    elif how == "change_role":
        roles = ["tool", "function", "", "User2", "system", "user", "assistant"]
        turns[index]["role"] = data.draw(st.sampled_from(roles))
    elif how == "empty_content":
        turns[index]["content"] = data.draw(st.sampled_from(["", " ", "\n\t"]))
    else:
        turns[index]["content"] = data.draw(st.sampled_from([None, 5, [], {}, [{"type": "x"}]]))


@SETTINGS
@given(st.lists(st.tuples(conversations, st.sampled_from(CORRUPTIONS)), max_size=8), st.data())
def test_generated_messages_round_trip_or_reject(workdir: Path, cases: list, data: st.DataObject):
    lines = []
    for (system, pairs), how in cases:
        turns = _messages(system, pairs)
        if how is not None:
            _corrupt(turns, how, data)
        lines.append(json.dumps({"messages": turns}, ensure_ascii=data.draw(st.booleans())))
    outcomes = list(parse_file(_write(workdir, "\n".join(lines).encode(), ".jsonl")))

    assert [o.line for o in outcomes] == list(range(1, len(cases) + 1))
    for outcome, ((system, pairs), how) in zip(outcomes, cases):
        if how is not None:
            continue
        assert isinstance(outcome, Record)
        assert outcome.system == system
        assert (outcome.prompt, outcome.response) == pairs[-1]
        assert outcome.context == [
            turn for user, assistant in pairs[:-1]
            for turn in (Turn("user", user), Turn("assistant", assistant))
        ]  # fmt: skip


# --- text formats ----------------------------------------------------------------------------

transcript_lines = st.text(max_size=30) | st.sampled_from(
    ["User: hi", "Assistant: yo", "System: s", "Q: x", "A:", "### Human", "---", "", "  ", "***"]
)


@SETTINGS
@given(st.lists(transcript_lines, max_size=20), st.sampled_from([".txt", ".md"]))
def test_arbitrary_transcripts_never_raise(workdir: Path, lines: list[str], suffix: str):
    data = "\n".join(lines).encode("utf-8")
    outcomes = list(parse_file(_write(workdir, data, suffix)))
    assert len(outcomes) <= _non_blank_lines(data)
    _assert_lines_ok(outcomes, data)


csv_lines = st.text(max_size=30) | st.sampled_from(
    ["prompt,response", "question,answer,rating", 'a,"b', '"x\ny",z', "q,a,9", ",,", "", ";"]
)


@SETTINGS
@given(st.lists(csv_lines, max_size=15), st.sampled_from([".csv", ".tsv"]))
def test_arbitrary_csv_raises_only_for_the_header(workdir: Path, lines: list[str], suffix: str):
    data = "\n".join(lines).encode("utf-8")
    try:
        outcomes = list(parse_file(_write(workdir, data, suffix)))
    except InputError as exc:
        assert "header" in str(exc)
        return
    _assert_lines_ok(outcomes, data)


@SETTINGS
@given(st.lists(st.tuples(visible_text, visible_text), max_size=10))
def test_csv_written_by_the_csv_module_round_trips(workdir: Path, rows: list[tuple[str, str]]):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["prompt", "response"])
    writer.writerows(rows)
    outcomes = list(parse_file(_write(workdir, buffer.getvalue().encode(), ".csv")))
    assert len(outcomes) == len(rows)
    for outcome, (prompt, response) in zip(outcomes, rows):
        if isinstance(outcome, Reject):
            # The one ambiguity: a quoted cell whose first line holds a comma and whose lines each
            # read as a record is written exactly like rows glued by an unclosed quote; it is
            # reported, never merged silently.
            assert "were read as one row" in outcome.reason
            assert any("," in cell.split("\n", 1)[0] and "\n" in cell for cell in (prompt, response))
        else:
            assert (outcome.prompt, outcome.response) == (prompt.strip(), response.strip())


csv_cells = st.text(alphabet="ab ,\n", max_size=12).map(lambda t: "x" + t)


@SETTINGS
@given(st.lists(st.tuples(csv_cells, csv_cells), min_size=1, max_size=12), st.data())
def test_csv_with_an_unclosed_quote_imports_or_reports_every_row(workdir: Path, rows: list[tuple[str, str]], data):
    """Every written row starts a record of its own or lies inside a reported span: an unclosed
    quote never lets one row silently absorb others."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["prompt", "response"])
    starts = []
    for row in rows:
        starts.append(buffer.getvalue().count("\n") + 1)
        writer.writerow(row)
    text = buffer.getvalue()
    # The cells hold no quote characters, so quotes alternate: opening, closing, opening, ...
    closing = [i for i, ch in enumerate(text) if ch == '"'][1::2]
    if closing:  # leave one quote unclosed
        drop = data.draw(st.sampled_from(closing))
        text = text[:drop] + text[drop + 1 :]
    outcomes = list(parse_file(_write(workdir, text.encode(), ".csv")))
    imported = {o.line for o in outcomes if isinstance(o, Record)}
    spans = [(o.line, o.last_line or o.line) for o in outcomes if isinstance(o, Reject)]
    for start in starts:
        assert start in imported or any(a <= start <= b for a, b in spans), (start, text, outcomes)


def test_unclosed_quote_that_glues_rows_is_reported_with_its_span(workdir: Path):
    data = b'prompt,response\n"P1 unclosed,R1\nP2",R2\nP3,R3\n"Q","Line one.\nLine two, too."\n'
    outcomes = list(parse_file(_write(workdir, data, ".csv")))
    assert isinstance(outcomes[0], Reject) and (outcomes[0].line, outcomes[0].last_line) == (2, 3)
    assert "lines 2-3" in outcomes[0].reason and "close the quote" in outcomes[0].reason
    assert [(o.line, o.prompt, o.response) for o in outcomes[1:]] == [(4, "P3", "R3"), (5, "Q", "Line one.\nLine two, too.")]


@pytest.mark.parametrize("ending", [b"\n", b""])
def test_a_quote_left_open_to_the_end_names_the_files_last_line(workdir: Path, ending: bytes):
    data = b'prompt,response\nP0,R0\n"P1 unclosed,R1\nP2,R2\nP3,R3' + ending
    outcomes = list(parse_file(_write(workdir, data, ".csv")))
    assert isinstance(outcomes[1], Reject) and (outcomes[1].line, outcomes[1].last_line) == (3, 5)
    assert "lines 3-5" in outcomes[1].reason
