"""An OpenAI-compatible endpoint as the eval config names it: the `candidates:` and `judges:` of
type openai, and the authoring backends, share these fields. A leaf module (pydantic only), so the
judge kinds and the frozen plan use it without importing the whole eval config."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from expertune.config import StrictModel


class EndpointFields(StrictModel):
    """An OpenAI-compatible endpoint. The key is read from the environment variable named by
    api_key_env (never written in the config); leave it empty for servers that need no key."""

    base_url: str
    model: str
    api_key_env: str | None = None
    timeout: float = Field(120.0, gt=0)
    concurrency: int = Field(4, ge=1, le=256)
    max_attempts: int = Field(4, ge=1, le=20)
    backoff_base: float = Field(1.0, ge=0)
    price_input_per_1m: float = Field(0.0, ge=0)
    price_output_per_1m: float = Field(0.0, ge=0)
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    extra_body: dict[str, Any] = Field(default_factory=dict)

    def endpoint(self):
        from expertune.llm.openai_compat import Endpoint

        return Endpoint(**self.model_dump(include=set(EndpointFields.model_fields)))
