"""The rules every chat-shaped format shares: optional system first, alternating user/assistant
turns, ending with the assistant turn that becomes the response."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from expertune.data.records import Turn
from expertune.data.formats.fields import Invalid


@dataclass(frozen=True)
class RawTurn:
    role: Literal["system", "user", "assistant"]  # callers map and reject their own role names
    content: str
    where: str  # how a reason names this turn, e.g. "messages[2]" or "the turn at line 14"


@dataclass(frozen=True)
class Conversation:
    system: str | None
    context: list[Turn]
    prompt: str
    response: str


def split_conversation(turns: list[RawTurn], system: str | None = None) -> Conversation:
    """Check the turns and split them into system, earlier turns, prompt and response.
    `system` is a system prompt given outside the turns (a top-level field)."""
    if not turns:
        raise Invalid("the conversation has no turns: add a user turn and an assistant turn")
    for turn in turns:
        if not turn.content.strip():
            raise Invalid(f"empty content in {turn.where}: every turn needs text")
    if turns[0].role == "system":
        if system is not None:
            raise Invalid(
                f"system prompt given twice (the 'system' field and {turns[0].where}): keep one"
            )
        system, turns = turns[0].content, turns[1:]
    expected = "user"
    for turn in turns:
        if turn.role == "system":
            raise Invalid(
                f"system message in {turn.where} is not first: "
                "a system message may only open the conversation"
            )
        if turn.role != expected:
            raise Invalid(
                f"{turn.where} has role {turn.role} where {expected} was expected: "
                "turns must alternate user/assistant, starting with user"
            )
        expected = "assistant" if expected == "user" else "user"
    if not turns or turns[-1].role != "assistant":
        raise Invalid("missing assistant turn: the conversation must end with an assistant message")
    return Conversation(
        system=system,
        context=[Turn("user" if t.role == "user" else "assistant", t.content) for t in turns[:-2]],
        prompt=turns[-2].content,
        response=turns[-1].content,
    )
