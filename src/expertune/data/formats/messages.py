"""OpenAI-style chat records: {"messages": [{"role": ..., "content": ...}, ...]}."""

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

KEYS = frozenset({"messages", "system"})

# "developer" is what newer OpenAI APIs call the system role.
_ROLES: dict[str, Literal["system", "user", "assistant"]] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
}


def _content(content: Any, where: str) -> str:
    """Plain text of a message; content given as a list of text parts is joined by newlines."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise Invalid(
            f"{where}.content must be a string or a list of text parts, got {json_type(content)}"
        )
    texts = []
    for i, part in enumerate(content):
        if not isinstance(part, dict):
            raise Invalid(f"{where}.content[{i}] must be a text part object, got {json_type(part)}")
        if part.get("type") != "text":
            raise Invalid(
                f"{where}.content[{i}] has type {describe(part.get('type'))}: only text parts "
                '{"type": "text", "text": "..."} are supported'
            )
        text = part.get("text")
        if not isinstance(text, str):
            raise Invalid(f"{where}.content[{i}].text must be a string, got {json_type(text)}")
        texts.append(text)
    return "\n".join(texts)


def _turn(message: Any, where: str) -> RawTurn:
    if not isinstance(message, dict):
        raise Invalid(f"{where} must be an object with role and content, got {json_type(message)}")
    role = message.get("role")
    mapped = _ROLES.get(role.lower()) if isinstance(role, str) else None
    if mapped is None:
        raise Invalid(
            f"unknown role {describe(role)} in {where}; expected system, user or assistant"
        )
    if "content" not in message:
        raise Invalid(f"missing 'content' in {where}")
    return RawTurn(mapped, _content(message["content"], where), where)


def to_record(obj: dict[str, Any], line: int, default_topic: str | None) -> Record:
    messages = obj.get("messages")
    if not isinstance(messages, list):
        shown = "missing" if "messages" not in obj else f"a {json_type(messages)}"
        raise Invalid(f"field 'messages' is {shown}: it must be a list of {{role, content}} turns")
    turns = [_turn(m, f"messages[{i}]") for i, m in enumerate(messages)]
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
