"""Any OpenAI-compatible chat endpoint (OpenAI, Gemini, vLLM, Ollama, llama.cpp server, ...).

Retries are done here rather than by the openai client, so they are explicit and testable:
HTTP 429 and 5xx, timeouts, dropped connections and malformed bodies are retried with
exponential backoff, waiting at least what the server's Retry-After asks; other 4xx answers
are not retried (a wrong key or model name does not fix itself). Concurrency is an asyncio
semaphore per endpoint.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Sequence

from expertune.errors import ConfigError
from expertune.llm.base import Conversation, GenParams, Generation

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529}


@dataclass
class Endpoint:
    base_url: str
    model: str
    api_key_env: str | None = None  # None: the server needs no key (local vLLM, Ollama, llama.cpp)
    timeout: float = 120.0
    concurrency: int = 4
    max_attempts: int = 4  # HTTP attempts per request
    backoff_base: float = 1.0  # seconds; doubled per attempt, capped at backoff_cap
    backoff_cap: float = 60.0
    price_input_per_1m: float = 0.0  # USD per 1M prompt tokens
    price_output_per_1m: float = 0.0
    max_tokens_param: str = "max_tokens"  # OpenAI reasoning models want "max_completion_tokens"
    extra_body: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The cache identity of this endpoint's answers: URL and model, plus a digest of every
        other field that changes what it answers (extra_body, e.g. reasoning effort or sampling
        options; the max-tokens parameter's name), when set. Transport settings (timeouts,
        retries, concurrency, prices, the key's variable) do not change answers and are left out."""
        ident = f"openai:{self.base_url.rstrip('/')}|{self.model}"
        answering = {"extra_body": self.extra_body, "max_tokens_param": self.max_tokens_param}
        if answering == {"extra_body": {}, "max_tokens_param": "max_tokens"}:
            return ident  # the plain form, as stored by earlier runs
        digest = hashlib.sha256(json.dumps(answering, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()
        return f"{ident}|{digest[:16]}"

    def api_key(self) -> str:
        if not self.api_key_env:
            return "not-needed"
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ConfigError(f"{self.base_url}: the environment variable {self.api_key_env} is not set; "
                              f"export it with the API key (api_key_env names the variable, never the key)")
        return key

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.price_input_per_1m + output_tokens * self.price_output_per_1m) / 1e6


@dataclass
class ChatResult:
    text: str
    finish_reason: str
    input_tokens: int = 0
    output_tokens: int = 0
    attempts: int = 1
    seconds: float = 0.0


class EndpointError(Exception):
    """A request that failed after its attempts (`retryable` False: a 4xx that will not change)."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = True, attempts: int = 1):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.attempts = attempts


class OpenAIEndpointClient:
    """Async chat calls with retries; use inside one event loop (`async with` closes the client)."""

    def __init__(self, endpoint: Endpoint, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        import openai

        self.endpoint = endpoint
        self.semaphore = asyncio.Semaphore(max(1, endpoint.concurrency))
        self._sleep = sleep
        self._client = openai.AsyncOpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key(),
                                          timeout=endpoint.timeout, max_retries=0)

    async def __aenter__(self) -> "OpenAIEndpointClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self._client.close()

    async def chat(self, messages: list[dict[str, str]], *, temperature: float = 0.0, max_tokens: int = 512,
                   top_p: float | None = None, seed: int | None = None, response_format: dict | None = None) -> ChatResult:
        """One completion; retried on transient failures; raises EndpointError when out of attempts."""
        kwargs: dict[str, Any] = {"model": self.endpoint.model, "messages": messages, "temperature": temperature,
                                  self.endpoint.max_tokens_param: max_tokens}
        if top_p is not None and top_p < 1.0:
            kwargs["top_p"] = top_p
        if seed is not None:
            kwargs["seed"] = seed
        if response_format is not None:
            kwargs["response_format"] = response_format
        if self.endpoint.extra_body:
            kwargs["extra_body"] = self.endpoint.extra_body
        last: EndpointError | None = None
        for attempt in range(1, self.endpoint.max_attempts + 1):
            started = time.perf_counter()
            try:
                async with self.semaphore:
                    response = await self._client.chat.completions.create(**kwargs)
                return _result(response, attempt, time.perf_counter() - started)
            except EndpointError as err:  # a 200 whose body is not a usable completion
                last, retry_after = err, None
            except Exception as err:  # noqa: BLE001 - classified below; anything unknown is re-raised
                last, retry_after = _classify(err), _retry_after(err)
                if last is None:
                    raise
                if not last.retryable:
                    last.attempts = attempt
                    raise last from None
            if attempt < self.endpoint.max_attempts:
                await self._sleep(self._delay(attempt, retry_after))
        assert last is not None
        last.attempts = self.endpoint.max_attempts
        raise last

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = min(self.endpoint.backoff_cap, self.endpoint.backoff_base * 2 ** (attempt - 1))
        backoff *= 1 + 0.1 * random.random()  # jitter: concurrent retries should not land together
        # The server's Retry-After is a floor (it knows when capacity returns), capped so a bogus
        # header cannot stall a run for hours.
        return max(backoff, min(retry_after, 10 * self.endpoint.backoff_cap)) if retry_after is not None else backoff


def _result(response: Any, attempt: int, seconds: float) -> ChatResult:
    choices = getattr(response, "choices", None)
    if not choices or getattr(choices[0], "message", None) is None:
        raise EndpointError("malformed response: no choices[0].message")
    content = choices[0].message.content
    if content is None:
        raise EndpointError("malformed response: empty message content")
    usage = getattr(response, "usage", None)
    return ChatResult(
        text=content, finish_reason=choices[0].finish_reason or "stop",
        input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0), output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        attempts=attempt, seconds=seconds,
    )


def _classify(err: Exception) -> EndpointError | None:
    import openai

    if isinstance(err, openai.APIStatusError):
        status = err.status_code
        return EndpointError(f"HTTP {status}: {_short(err)}", status=status, retryable=status in RETRYABLE_STATUS)
    if isinstance(err, (openai.APITimeoutError, openai.APIConnectionError)):
        return EndpointError(f"{type(err).__name__}: {_short(err)}")
    if isinstance(err, (openai.APIResponseValidationError, ValueError, TypeError, KeyError)):
        return EndpointError(f"malformed response ({type(err).__name__}: {_short(err)})")
    return None


def _short(err: Exception, limit: int = 300) -> str:
    text = str(err)
    return text if len(text) <= limit else text[:limit] + "..."


def _retry_after(err: Exception) -> float | None:
    response = getattr(err, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class OpenAIChatModel:
    """llm.base.ChatModel over an OpenAI-compatible endpoint (used for remote candidates)."""

    def __init__(self, endpoint: Endpoint, *, on_result: Callable[[int, ChatResult], None] | None = None):
        self.endpoint = endpoint
        self.id = endpoint.id
        self.on_result = on_result  # called per finished request (index, result): cost ledger, storage

    def generate(self, conversations: list[Conversation], params: GenParams, *, seeds: Sequence[int] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> list[Generation]:
        return asyncio.run(self.agenerate(conversations, params, seeds=seeds, progress=progress))

    async def agenerate(self, conversations: list[Conversation], params: GenParams, *, seeds: Sequence[int] | None = None,
                        progress: Callable[[int, int], None] | None = None) -> list[Generation]:
        seeds = list(seeds) if seeds is not None else [params.seed] * len(conversations)
        done = 0

        async with OpenAIEndpointClient(self.endpoint) as client:
            async def one(i: int) -> Generation:
                nonlocal done
                try:
                    r = await client.chat(conversations[i], temperature=params.temperature, max_tokens=params.max_new_tokens,
                                          top_p=params.top_p, seed=seeds[i])
                    gen = Generation(r.text, "length" if r.finish_reason == "length" else "stop", r.input_tokens,
                                     r.output_tokens, extra={"seconds": r.seconds, "attempts": r.attempts})
                    if self.on_result:
                        self.on_result(i, r)
                except EndpointError as err:
                    if not err.retryable and err.status in (401, 403, 404):
                        raise ConfigError(f"{self.endpoint.base_url} model {self.endpoint.model}: {err}; check the "
                                          f"URL, the model name and {self.endpoint.api_key_env or 'the API key'}") from None
                    gen = Generation("", "error", error=str(err), extra={"attempts": err.attempts})
                done += 1
                if progress:
                    progress(done, len(conversations))
                return gen

            return list(await asyncio.gather(*(one(i) for i in range(len(conversations)))))
