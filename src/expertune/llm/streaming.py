"""Streaming generation with cancel, for interactive authoring (the terminal and web studios).

Both backends run the generation in a worker thread that pushes text pieces into a queue; the
caller iterates the TokenStream and may call `cancel()` at any moment (e.g. on Ctrl-C, which
interrupts the queue wait in the main thread). The worker notices the cancel event between
tokens - transformers through a StoppingCriteria, the OpenAI-compatible client by closing the
HTTP stream - and the stream ends with finish_reason "cancelled" and the text written so far.
One mechanism for both backends, so the studios handle them the same way.

- Local models: LocalChatModel's tokenizer, model and `render` (the chat template the model was
  trained with); `generate` with a TextStreamer subclass, and sampling by the same per-seed
  SeededSampler the batched harness uses, so a draft's (parameters, seed) reproduce it.
- OpenAI-compatible endpoints: the `openai` client with stream=True. Retries of 429/5xx before
  the first token are the client's own (max_retries, honouring Retry-After); an error after that
  ends the stream with finish_reason "error" and its message.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

from expertune.errors import ConfigError, ExpertuneError
from expertune.llm.base import Conversation, GenParams

Emit = Callable[[str], None]


@dataclass
class StreamResult:
    text: str
    finish_reason: str  # stop | length | cancelled | error
    completion_tokens: int = 0
    error: str | None = None


_END = object()


class TokenStream:
    """Iterate for text pieces as they are written; `wait()` returns the StreamResult."""

    def __init__(self, work: Callable[[Emit, threading.Event], StreamResult]):
        self._queue: queue.Queue = queue.Queue()
        self._cancel = threading.Event()
        self._result: StreamResult | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[Emit, threading.Event], StreamResult]) -> None:
        try:
            self._result = work(self._queue.put, self._cancel)
        except BaseException as err:  # noqa: BLE001 - handed to the caller by wait()
            self._error = err
        finally:
            self._queue.put(_END)

    def __iter__(self) -> Iterator[str]:
        while (piece := self._queue.get()) is not _END:
            yield piece
        self._queue.put(_END)  # iterating again (or wait()) must not block

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def wait(self) -> StreamResult:
        """The finished stream's result (joins the worker); user errors are re-raised."""
        self._thread.join()
        if isinstance(self._error, ExpertuneError):
            raise self._error
        if self._error is not None:
            return StreamResult("", "error", error=f"{type(self._error).__name__}: {self._error}")
        assert self._result is not None
        if self._cancel.is_set() and self._result.finish_reason != "error":
            self._result.finish_reason = "cancelled"
        return self._result


class StreamingModel(Protocol):
    id: str

    def stream(self, conversation: Conversation, params: GenParams) -> TokenStream: ...


class LocalStreamingModel:
    """Streams from a LocalChatModel (any base expertune resolves, optionally with an adapter)."""

    def __init__(self, chat: Any):
        self.chat = chat
        self.id = chat.id
        self._lock = threading.Lock()  # one generation at a time on the shared weights

    def stream(self, conversation: Conversation, params: GenParams) -> TokenStream:
        prompt_ids = self.chat.render(conversation).input_ids  # the one renderer, as evaluation and serving
        return TokenStream(lambda emit, cancel: self._generate(prompt_ids, params, emit, cancel))

    def _generate(self, prompt_ids: list[int], params: GenParams, emit: Emit, cancel: threading.Event) -> StreamResult:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList, TextStreamer

        from expertune.llm.decoding import SeededSampler

        tok, model = self.chat.tokenizer, self.chat.model
        eos = sorted(self.chat.eos_ids())

        class Streamer(TextStreamer):
            def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
                if text:
                    emit(text)

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool)

        input_ids = torch.tensor([prompt_ids])
        ids = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
        config = GenerationConfig(do_sample=False, max_new_tokens=params.max_new_tokens, eos_token_id=eos,
                                  pad_token_id=tok.pad_token_id, use_cache=True)
        processors = LogitsProcessorList()
        if params.temperature > 0:  # sampling by the seeded sampler; greedy search then picks its draw
            processors.append(SeededSampler([params.seed], params.temperature, params.top_p))
        with self._lock, torch.inference_mode():
            out = model.generate(**ids, generation_config=config, logits_processor=processors,
                                 stopping_criteria=StoppingCriteriaList([Cancelled()]),
                                 streamer=Streamer(tok, skip_prompt=True, skip_special_tokens=True))
        new = out[0, ids["input_ids"].shape[1]:].tolist()
        stop = next((k for k, t in enumerate(new) if t in eos), None)
        kept = new if stop is None else new[:stop]
        reason = "cancelled" if cancel.is_set() else ("stop" if stop is not None else "length")
        return StreamResult(tok.decode(kept, skip_special_tokens=True), reason, len(kept) + (stop is not None))


class OpenAIStreamingModel:
    """Streams from an OpenAI-compatible endpoint (llm.openai_compat.Endpoint)."""

    def __init__(self, endpoint: Any):
        self.endpoint = endpoint
        self.id = endpoint.id

    def stream(self, conversation: Conversation, params: GenParams) -> TokenStream:
        api_key = self.endpoint.api_key()  # a missing key is the user's to fix: raise here, not in the thread
        return TokenStream(lambda emit, cancel: self._generate(conversation, params, api_key, emit, cancel))

    def _generate(self, conversation: Conversation, params: GenParams, api_key: str, emit: Emit,
                  cancel: threading.Event) -> StreamResult:
        import openai

        ep = self.endpoint
        client = openai.OpenAI(base_url=ep.base_url, api_key=api_key, timeout=ep.timeout,
                               max_retries=max(0, ep.max_attempts - 1))
        kwargs: dict[str, Any] = {"model": ep.model, "messages": conversation, "temperature": params.temperature,
                                  ep.max_tokens_param: params.max_new_tokens, "seed": params.seed, "stream": True}
        if params.top_p < 1.0:
            kwargs["top_p"] = params.top_p
        if ep.extra_body:
            kwargs["extra_body"] = ep.extra_body
        pieces: list[str] = []
        reason = "stop"
        try:
            with client.chat.completions.create(**kwargs) as stream:
                for chunk in stream:
                    if cancel.is_set():
                        break  # leaving the block closes the HTTP response
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    if choice.delta is not None and choice.delta.content:
                        pieces.append(choice.delta.content)
                        emit(choice.delta.content)
                    if choice.finish_reason:
                        reason = "length" if choice.finish_reason == "length" else "stop"
        except openai.APIStatusError as err:
            if err.status_code in (401, 403, 404):
                raise ConfigError(f"{ep.base_url} model {ep.model}: HTTP {err.status_code}; check the URL, the model "
                                  f"name and {ep.api_key_env or 'the API key'}") from None
            return StreamResult("".join(pieces), "error", len(pieces), error=f"HTTP {err.status_code}: {err.message}")
        except openai.APIError as err:
            return StreamResult("".join(pieces), "error", len(pieces), error=f"{type(err).__name__}: {err}")
        finally:
            client.close()
        return StreamResult("".join(pieces), "cancelled" if cancel.is_set() else reason, len(pieces))
