"""The one small interface every chat backend implements (local transformers, OpenAI-compatible HTTP)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": str}
Conversation = list[Message]


@dataclass(frozen=True)
class GenParams:
    temperature: float = 0.0  # 0 means greedy
    max_new_tokens: int = 256
    top_p: float = 1.0
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Generation:
    text: str
    finish_reason: str  # "stop" | "length" | "error"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ChatModel(Protocol):
    # Stable identity for caches: model + adapter hashes, never a display name alone.
    id: str

    def generate(self, conversations: list[Conversation], params: GenParams) -> list[Generation]:
        """One generation per conversation, in order; failures come back with finish_reason "error"."""
        ...
