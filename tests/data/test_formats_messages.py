"""OpenAI-style messages records, and the optional fields every JSON record may carry."""

from pathlib import Path

from expertune.data.formats import parse_file, parse_record
from expertune.data.records import Record, Reject, Turn

FIXTURES = Path(__file__).parent.parent / "fixtures" / "formats"


def _by_line(name: str) -> dict[int, Record | Reject]:
    return {outcome.line: outcome for outcome in parse_file(FIXTURES / name)}


def test_messages_fixture_yields_one_outcome_per_non_blank_line():
    outcomes = list(parse_file(FIXTURES / "messages.jsonl"))
    # Lines 3 and 15 are blank or whitespace-only and yield nothing.
    assert [o.line for o in outcomes] == [1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16]


def test_single_turn_with_common_fields():
    record = _by_line("messages.jsonl")[1]
    assert isinstance(record, Record)
    assert record.prompt == "What is a lien?"
    assert record.response == "A legal claim on property."
    assert record.system is None and record.context == []
    assert record.topic == "law"
    assert record.tags == ["property", "basics"]
    assert record.rating == 5
    assert record.preferred is False
    assert record.meta is None


def test_multi_turn_with_system_and_model_author():
    record = _by_line("messages.jsonl")[2]
    assert isinstance(record, Record)
    assert record.system == "You are a tax advisor."
    assert record.context == [
        Turn("user", "Can I deduct my car?"),
        Turn("assistant", "Only business use."),
    ]
    assert record.prompt == "How do I prove it?"
    assert record.response == "Keep a mileage log."
    assert record.author == "gpt-4o-mini" and record.author_kind == "model"
    assert record.preferred is True  # from meta.rated_better
    assert record.meta == {"rated_better": True, "source": "review"}


def test_developer_role_text_parts_and_gen_params():
    record = _by_line("messages.jsonl")[4]
    assert isinstance(record, Record)
    assert record.system == "Be brief."
    assert record.prompt == "Part one.\nPart two."
    assert record.gen_params == {"temperature": 0.7}
    assert record.preferred is True


def test_unknown_keys_are_kept_in_meta_and_meta_rating_is_read():
    record = _by_line("messages.jsonl")[14]
    assert isinstance(record, Record)
    assert record.rating == 2
    assert record.meta == {"batch": 3, "rating": 2, "extra": {"id": "abc-1"}}


def test_bad_lines_are_rejected_with_reasons():
    outcomes = _by_line("messages.jsonl")
    expected = {
        5: "unknown role 'tool' in messages[1]; expected system, user or assistant",
        6: "missing assistant turn: the conversation must end with an assistant message",
        7: "system message in messages[1] is not first",
        8: "empty content in messages[1]",
        9: "messages[1] has role user where assistant was expected",
        10: "messages[0].content[0] has type 'image_url'",
        11: "field 'rating' must be a whole number from 1 to 5",
        12: "not valid JSON",
        13: "field 'messages' is a string",
        16: "field 'tags' must be a list of strings",
    }
    for line, reason in expected.items():
        outcome = outcomes[line]
        assert isinstance(outcome, Reject), line
        assert reason in outcome.reason, (line, outcome.reason)


def _chat(*turns: tuple[str, object], **fields: object) -> dict:
    return {"messages": [{"role": r, "content": c} for r, c in turns], **fields}


def test_role_names_are_case_insensitive_but_other_roles_are_rejected():
    ok = parse_record(_chat(("User", "q"), ("Assistant", "a")), 1, "messages")
    assert isinstance(ok, Record) and ok.prompt == "q"
    bad = parse_record(_chat(("user", "q"), ("function", "f"), ("assistant", "a")), 1, "messages")
    assert isinstance(bad, Reject) and "unknown role 'function'" in bad.reason


def test_top_level_system_field_and_conflicting_system_turn():
    record = parse_record(_chat(("user", "q"), ("assistant", "a"), system="S"), 1, "messages")
    assert isinstance(record, Record) and record.system == "S"
    twice = parse_record(
        _chat(("system", "T"), ("user", "q"), ("assistant", "a"), system="S"), 1, "messages"
    )
    assert isinstance(twice, Reject) and "system prompt given twice" in twice.reason


def test_conversation_starting_with_assistant_is_rejected():
    outcome = parse_record(_chat(("assistant", "a"), ("user", "q"), ("assistant", "b")), 3, "auto")
    assert isinstance(outcome, Reject)
    assert outcome.line == 3
    assert "messages[0] has role assistant where user was expected" in outcome.reason


def test_wrong_types_are_rejected_naming_the_field():
    cases = {
        "field 'topic' must be a string": _chat(("user", "q"), ("assistant", "a"), topic=3),
        "field 'preferred' must be true or false": _chat(
            ("user", "q"), ("assistant", "a"), preferred="yes"
        ),
        "field 'meta' must be an object": _chat(("user", "q"), ("assistant", "a"), meta=[1]),
        "field 'meta.rated_better' must be true or false": _chat(
            ("user", "q"), ("assistant", "a"), meta={"rated_better": 1}
        ),
        "field 'meta.rating' must be a whole number": _chat(
            ("user", "q"), ("assistant", "a"), meta={"rating": 9}
        ),
        "field 'gen_params' must be an object": _chat(
            ("user", "q"), ("assistant", "a"), gen_params="hot"
        ),
        "field 'rating' must be a whole number": _chat(
            ("user", "q"), ("assistant", "a"), rating=True
        ),
        "field 'model' must be a string": _chat(("user", "q"), ("assistant", "a"), model=1),
        "messages[1].content must be a string": _chat(("user", "q"), ("assistant", 5)),
        "missing 'content' in messages[0]": {"messages": [{"role": "user"}]},
        "messages[0].content[0] must be a text part object": {
            "messages": [{"role": "user", "content": ["hi"]}]
        },
        "messages[0].content[0].text must be a string": {
            "messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]
        },
        "unknown role null in messages[0]": {"messages": [{"content": "hi"}]},
        "messages[0] must be an object": {"messages": ["hi"]},
        "the conversation has no turns": {"messages": []},
    }
    for reason, obj in cases.items():
        outcome = parse_record(obj, 1, "messages")
        assert isinstance(outcome, Reject), reason
        assert reason in outcome.reason, (reason, outcome.reason)


def test_generation_alias_author_and_default_topic():
    record = parse_record(
        _chat(("user", "q"), ("assistant", "a"), generation={"top_p": 0.9}, author=" Dr. Lee "),
        1,
        "messages",
        default_topic="general",
    )
    assert isinstance(record, Record)
    assert record.gen_params == {"top_p": 0.9}
    assert record.author == "Dr. Lee" and record.author_kind == "human"
    assert record.topic == "general"


def test_extra_keys_never_overwrite_an_existing_meta_extra():
    record = parse_record(
        _chat(("user", "q"), ("assistant", "a"), meta={"extra": 1}, source="x"), 1, "messages"
    )
    assert isinstance(record, Record)
    assert record.meta == {"extra": 1, "_extra": {"source": "x"}}


def test_meta_preferred_and_duplicate_tags():
    record = parse_record(
        _chat(("user", "q"), ("assistant", "a"), meta={"preferred": True}, tags=["a", " a", ""]),
        1,
        "messages",
    )
    assert isinstance(record, Record)
    assert record.preferred is True
    assert record.tags == ["a"]
