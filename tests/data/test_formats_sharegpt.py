"""ShareGPT records share the conversation rules of messages records."""

from pathlib import Path

from expertune.data.formats import parse_file, parse_record
from expertune.data.records import Record, Reject, Turn

FIXTURES = Path(__file__).parent.parent / "fixtures" / "formats"


def test_sharegpt_fixture():
    outcomes = list(parse_file(FIXTURES / "sharegpt.jsonl", "sharegpt"))
    assert [o.line for o in outcomes] == [1, 2, 3, 4, 5, 6, 7]

    first = outcomes[0]
    assert isinstance(first, Record)
    assert (first.system, first.prompt, first.response) == (
        "You are a banker.",
        "Define APR.",
        "Annual percentage rate.",
    )
    assert first.meta == {"extra": {"id": "sg-1"}}

    second = outcomes[1]
    assert isinstance(second, Record)
    assert second.system == "Answer in French."
    assert second.context == [Turn("user", "Hello"), Turn("assistant", "Bonjour")]
    assert (second.prompt, second.response) == ("Thanks", "De rien")

    reasons = {
        3: "unknown speaker 'function_call' in conversations[1].from",
        4: "system prompt given twice",
        5: "conversations[0].value is a number",
        6: "missing assistant turn",
        7: "the conversation has no turns",
    }
    for outcome in outcomes[2:]:
        assert isinstance(outcome, Reject)
        assert reasons[outcome.line] in outcome.reason


def test_sharegpt_and_messages_give_the_same_record():
    sharegpt = parse_record(
        {"conversations": [{"from": "human", "value": "q"}, {"from": "model", "value": "a"}]},
        1,
        "auto",
    )
    messages = parse_record(
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
        1,
        "auto",
    )
    assert sharegpt == messages


def test_missing_conversations_under_explicit_format():
    outcome = parse_record({"messages": []}, 4, "sharegpt")
    assert outcome == Reject(
        4, "field 'conversations' is missing: it must be a list of {from, value} turns"
    )
