"""Plain-text transcripts: labelled turns, blocks separated by rules or blank lines."""

from pathlib import Path

from expertune.data.formats import parse_file
from expertune.data.records import Record, Reject, Turn

FIXTURES = Path(__file__).parent.parent / "fixtures" / "formats"


def test_transcript_fixture():
    outcomes = list(parse_file(FIXTURES / "chat.txt", default_topic="maths"))
    assert [o.line for o in outcomes] == [1, 9, 13, 16, 20, 22, 26]

    tutor = outcomes[0]
    assert isinstance(tutor, Record)
    assert tutor.system == "You are a patient tutor."
    assert tutor.context == [
        Turn("user", "What is a derivative?"),
        Turn("assistant", "The rate of change of a function.\n\nIt measures slope."),
    ]
    assert (tutor.prompt, tutor.response, tutor.topic) == (
        "And an integral?",
        "The area under the curve.",
        "maths",
    )

    assert isinstance(outcomes[1], Record)
    assert (outcomes[1].prompt, outcomes[1].response) == ("Single pair?", "Yes.")
    assert isinstance(outcomes[2], Record)
    assert outcomes[2].prompt == "Two blank lines ended the last block."

    reasons = {
        16: "text before the first speaker label (line 16)",
        20: "missing assistant turn",
        22: "the turn at line 23 has role user where assistant was expected",
        26: "empty content in the turn at line 27",
    }
    for outcome in outcomes[3:]:
        assert isinstance(outcome, Reject)
        assert reasons[outcome.line] in outcome.reason


def test_markdown_headings():
    outcomes = list(parse_file(FIXTURES / "chat.md"))
    assert [(o.line, o.prompt, o.response) for o in outcomes] == [
        (
            1,
            "How do I reset my router?\n\nI already tried unplugging it.",
            "Hold the reset button for 30 seconds, then wait for the lights.",
        ),
        (11, "Is that safe?", "Yes, it only restores factory settings."),
    ]


def test_undecodable_line_rejects_its_block(tmp_path: Path):
    path = tmp_path / "chat.txt"
    path.write_bytes(b"User: hi\r\nAssistant: h\xe9llo\r\n---\r\nUser: q\r\nAssistant: a\r\n")
    first, second = parse_file(path)
    assert isinstance(first, Reject) and first.line == 1
    assert first.reason.startswith("line 2 is not valid UTF-8 (byte offset 22)")
    assert isinstance(second, Record) and (second.line, second.response) == (4, "a")


def test_only_separators_and_blank_lines_yield_nothing(tmp_path: Path):
    path = tmp_path / "empty.md"
    path.write_text("---\n\n\n===\n***\n\n")
    assert list(parse_file(path)) == []
