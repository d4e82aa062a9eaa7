"""Plain-text chat transcripts: "User: ..." / "Assistant: ..." turns, one conversation per block.
Blocks are separated by a "---", "===" or "***" line, or by two or more blank lines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

from expertune.data.formats.conversation import RawTurn, split_conversation
from expertune.data.formats.fields import Invalid, build_record
from expertune.data.formats.lines import decode_lines
from expertune.data.records import Outcome, Reject

_ROLES: dict[str, Literal["system", "user", "assistant"]] = {
    "user": "user",
    "human": "user",
    "q": "user",
    "question": "user",
    "assistant": "assistant",
    "ai": "assistant",
    "a": "assistant",
    "answer": "assistant",
    "bot": "assistant",
    "gpt": "assistant",
    "claude": "assistant",
    "chatgpt": "assistant",
    "model": "assistant",
    "system": "system",
}
_NAMES = "|".join(sorted(_ROLES, key=len, reverse=True))
# "User: text" starts a turn, and so does a Markdown heading "### User" with the text below it;
# the heading's empty group 2 lets both be read the same way (group 2 = text on the label line).
_LABEL = re.compile(rf"^(?:#{{1,6}}[ \t]*)?({_NAMES})[ \t]*:(.*)$", re.IGNORECASE)
_HEADING = re.compile(rf"^#{{1,6}}[ \t]*({_NAMES})[ \t]*()$", re.IGNORECASE)
_SEPARATOR = re.compile(r"^[ \t]*(?:-{3,}|={3,}|\*{3,})[ \t]*$")

Block = list[tuple[int, str | Reject]]


def _blocks(data: bytes) -> Iterator[Block]:
    """Non-empty blocks of lines; a single blank line stays inside its turn as a paragraph break."""
    block: Block = []
    blank_run = 0
    for number, text in decode_lines(data):
        is_text = isinstance(text, str)
        if is_text and _SEPARATOR.match(text):
            blank_run = 2  # ends the block just like a run of blank lines
        elif is_text and not text.strip():
            blank_run += 1
        else:
            blank_run = 0
        if blank_run >= 2:
            if block:
                yield block
            block = []
        elif blank_run == 0 or block:
            block.append((number, text))
    if block:
        yield block


def _turns(block: Block) -> list[RawTurn]:
    turns: list[tuple[Literal["system", "user", "assistant"], int, list[str]]] = []
    for number, text in block:
        if isinstance(text, Reject):
            raise Invalid(f"line {number} is {text.reason}")
        label = _LABEL.match(text) or _HEADING.match(text)
        if label:
            turns.append((_ROLES[label.group(1).lower()], number, [label.group(2)]))
        elif not turns:
            raise Invalid(
                f"text before the first speaker label (line {number}): start each turn with "
                "a label such as 'User:' or 'Assistant:' at the beginning of a line"
            )
        else:
            turns[-1][2].append(text)
    return [
        RawTurn(role, "\n".join(parts).strip(), f"the turn at line {number}")
        for role, number, parts in turns
    ]


def parse_transcript(data: bytes, *, default_topic: str | None) -> Iterator[Outcome]:
    """One outcome per conversation block, at the line where the block starts."""
    for block in _blocks(data):
        start = block[0][0]
        try:
            chat = split_conversation(_turns(block))
            yield build_record(
                {},
                start,
                known=frozenset(),
                prompt=chat.prompt,
                response=chat.response,
                system=chat.system,
                context=chat.context,
                default_topic=default_topic,
            )
        except Invalid as exc:
            yield Reject(start, str(exc))
