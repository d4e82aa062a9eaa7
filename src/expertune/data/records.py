"""What importers produce: one outcome per input record, either a parsed Record or a Reject."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["user", "assistant"]

_WS = re.compile(r"\s+")


def normalise_ws(text: str) -> str:
    """Whitespace-normalised text: runs of whitespace collapse to one space, ends stripped."""
    return _WS.sub(" ", text).strip()


@dataclass(frozen=True)
class Turn:
    role: Role
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass
class Mcq:
    """A multiple-choice item kept with its fields intact so exams can be re-rendered later."""

    question: str
    options: list[str]
    answer: str  # a letter, "A".."J"
    area: str | None = None
    explanation: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "options": list(self.options),
            "answer": self.answer,
            "area": self.area,
            "explanation": self.explanation,
        }


@dataclass
class Record:
    """One training example: a prompt (with system prompt and earlier turns) and one response."""

    line: int
    prompt: str
    response: str
    system: str | None = None
    context: list[Turn] = field(default_factory=list)
    topic: str | None = None
    tags: list[str] = field(default_factory=list)
    rating: int | None = None
    preferred: bool = False
    author: str | None = None  # human name or model id
    author_kind: Literal["human", "model"] = "human"
    gen_params: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    mcq: Mcq | None = None
    # The record's own review status (an export of reviewed data says which answers were rejected);
    # None means the import's --status applies.
    status: Literal["accepted", "draft", "rejected"] | None = None

    def group_key(self) -> str:
        """Stable id of the prompt group: hash of (system, context, prompt) after whitespace
        normalisation. Records with the same key become one group with several responses."""
        payload = [
            normalise_ws(self.system or ""),
            [[t.role, normalise_ws(t.content)] for t in self.context],
            normalise_ws(self.prompt),
        ]
        blob = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]

    def response_key(self) -> str:
        """Content hash of the response within its group, for idempotent re-import."""
        blob = self.group_key() + "\x00" + normalise_ws(self.response)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Reject:
    """An input record that could not be imported, with its line and the reason."""

    line: int
    reason: str
    last_line: int | None = None  # when the rejected record spans several lines


Outcome = Record | Reject
