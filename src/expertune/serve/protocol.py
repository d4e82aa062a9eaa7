"""The OpenAI chat-completions protocol: request validation, error bodies, and turning a row's
tokens into text deltas (incremental detokenisation with stop strings).

Text is always the tokenizer's decoding of all tokens so far (`skip_special_tokens`, as
evaluation decodes), so the concatenated deltas equal the final answer; a delta is held back while
it ends in an incomplete character or in what may be the start of a stop string.
"""

from __future__ import annotations

from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ApiError(Exception):
    """An error answered in the OpenAI shape: {"error": {"message", "type", "param", "code"}}."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]

    def plain(self) -> dict[str, str]:
        text = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)
        return {"role": "system" if self.role == "developer" else self.role, "content": text}


class ChatRequest(BaseModel):
    # Unknown fields (user, metadata, ...) are accepted and ignored, as OpenAI-compatible servers do.
    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    min_tokens: int = Field(0, ge=0)  # vLLM's extension: no EOS before this many tokens
    stop: str | list[str] | None = Field(None, validate_default=True)
    seed: int | None = None
    n: int = Field(1, ge=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None

    @field_validator("stop")
    @classmethod
    def _stops(cls, value):
        stops = [value] if isinstance(value, str) else list(value or [])
        if len(stops) > 4 or any(not s for s in stops):
            raise ValueError("up to 4 non-empty stop strings")
        return stops

    def conversation(self) -> list[dict[str, str]]:
        return [m.plain() for m in self.messages]


def parse_request(body: bytes) -> ChatRequest:
    try:
        return ChatRequest.model_validate_json(body)
    except ValidationError as err:
        first = err.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        raise ApiError(400, f"{param or 'body'}: {first['msg']}", param=param) from None


class ChoiceText:
    """One choice's text as its tokens arrive (called on the engine thread); `emit(text)` gets
    each new piece of text."""

    def __init__(self, tokenizer, stops: list[str], emit: Callable[[str], None]):
        self.tokenizer = tokenizer
        self.stops = stops
        self.emit = emit
        self.tokens: list[int] = []
        self.sent = 0
        self.text = ""
        self.stopped = False

    def on_token(self, token: int) -> bool:
        self.tokens.append(token)
        text = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
        found = [k for k in (text.find(s) for s in self.stops) if k >= 0]
        if found:
            self.stopped = True
            self._send(text[: min(found)])
            return False
        hold = len(text) - len(text.rstrip("\ufffd"))  # an incomplete UTF-8 character
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(text)), 0, -1):
                if text.endswith(stop[:n]):
                    hold = max(hold, n)
                    break
        self._send(text[: len(text) - hold], final=False)
        return True

    def finish(self) -> None:
        if not self.stopped:
            self._send(self.tokenizer.decode(self.tokens, skip_special_tokens=True))

    def _send(self, text: str, final: bool = True) -> None:
        if final:
            self.text = text
        if len(text) > self.sent:
            piece, self.sent = text[self.sent:], len(text)
            self.emit(piece)
