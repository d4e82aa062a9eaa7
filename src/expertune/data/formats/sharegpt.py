"""ShareGPT records: {"conversations": [{"from": "human", "value": ...}, ...], "system": ...}."""

from __future__ import annotations

from typing import Any, Literal

from expertune.data.formats.conversation import RawTurn, split_conversation
from expertune.data.formats.fields import (
    Invalid,
    build_record,
    describe,
    json_type,
    optional_text,
)
from expertune.data.records import Record

KEYS = frozenset({"conversations", "system"})

# ShareGPT dumps name the assistant after whichever product produced the answer.
_SPEAKERS: dict[str, Literal["system", "user", "assistant"]] = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
    "model": "assistant",
}


def _turn(message: Any, where: str) -> RawTurn:
    if not isinstance(message, dict):
        raise Invalid(f"{where} must be an object with from and value, got {json_type(message)}")
    speaker = message.get("from")
    mapped = _SPEAKERS.get(speaker.lower()) if isinstance(speaker, str) else None
    if mapped is None:
        raise Invalid(
            f"unknown speaker {describe(speaker)} in {where}.from; expected human, gpt or system"
        )
    value = message.get("value")
    if not isinstance(value, str):
        shown = "missing" if "value" not in message else f"a {json_type(value)}"
        raise Invalid(f"{where}.value is {shown}: it must be the turn's text")
    return RawTurn(mapped, value, where)


def to_record(obj: dict[str, Any], line: int, default_topic: str | None) -> Record:
    conversations = obj.get("conversations")
    if not isinstance(conversations, list):
        shown = "missing" if "conversations" not in obj else f"a {json_type(conversations)}"
        raise Invalid(
            f"field 'conversations' is {shown}: it must be a list of {{from, value}} turns"
        )
    turns = [_turn(m, f"conversations[{i}]") for i, m in enumerate(conversations)]
    chat = split_conversation(turns, optional_text(obj, "system"))
    return build_record(
        obj,
        line,
        known=KEYS,
        prompt=chat.prompt,
        response=chat.response,
        system=chat.system,
        context=chat.context,
        default_topic=default_topic,
    )
