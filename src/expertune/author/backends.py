"""The authoring backend: which model writes drafts, stored with the session as a small spec.

`{"type": "local", "model": "builtin:smollm2-135m-instruct"}` (the default, works offline; any
model name expertune resolves) or `{"type": "openai", "base_url": ..., "model": ...,
"api_key_env": ...}` with the same fields as an evaluation endpoint (evaluate.config). The key is
read from the named environment variable when a draft is written, never stored.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import ValidationError

from expertune.config import StrictModel
from expertune.errors import ConfigError
from expertune.evaluate.config import EndpointFields
from expertune.llm.streaming import LocalStreamingModel, OpenAIStreamingModel, StreamingModel


class LocalBackend(StrictModel):
    type: Literal["local"] = "local"
    model: str


class OpenAIBackend(EndpointFields):
    type: Literal["openai"] = "openai"


def backend_spec(model: str, *, base_url: str | None = None, api_key_env: str | None = None,
                 **endpoint: Any) -> dict[str, Any]:
    """The stored spec for `--model M [--base-url URL --api-key-env VAR]`, validated."""
    if base_url:
        return validate_spec({"type": "openai", "base_url": base_url, "model": model, "api_key_env": api_key_env, **endpoint})
    return validate_spec({"type": "local", "model": model})


def validate_spec(spec: dict[str, Any]) -> dict[str, Any]:
    model_cls = OpenAIBackend if spec.get("type") == "openai" else LocalBackend
    try:
        return model_cls.model_validate(spec).model_dump()
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"authoring backend: {problems}") from None


def open_backend(spec: dict[str, Any]) -> StreamingModel:
    """A streaming model for the spec; local weights are loaded once per process."""
    spec = validate_spec(spec)
    if spec["type"] == "openai":
        return OpenAIStreamingModel(OpenAIBackend.model_validate(spec).endpoint())
    return _local(spec["model"])


@lru_cache(maxsize=2)
def _local(model: str) -> StreamingModel:
    from expertune.llm.local import LocalChatModel

    return LocalStreamingModel(LocalChatModel(model))
