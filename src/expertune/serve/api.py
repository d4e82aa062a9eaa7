"""The FastAPI app: OpenAI-compatible chat completions (plain and streamed), model list, health,
Prometheus metrics; bearer-key check, request size and max_tokens limits, timeouts, and a client
that disconnects cancels its generation.

Requests reach the decoding thread (engine.py) as DecodeRows whose callbacks hand text pieces back
to the request's asyncio queue. Prompts are not logged unless `log_prompts` is set.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import random
import time
import uuid
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from expertune.errors import NotFound
from expertune.llm.decoding import DecodeRow
from expertune.serve.config import ServeConfig
from expertune.serve.engine import Engine, QueueFull
from expertune.serve.metrics import Metrics
from expertune.serve.models import ModelPool, Variant
from expertune.serve.protocol import ApiError, ChatRequest, ChoiceText, parse_request

log = logging.getLogger("expertune.serve")


def create_app(pool: ModelPool, engine: Engine, config: ServeConfig, metrics: Metrics, key: str | None) -> FastAPI:
    app = FastAPI(title="expertune", docs_url=None, redoc_url=None, openapi_url=None)
    started_at = int(time.time())

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, err: ApiError):
        metrics.errors.labels(err.type).inc()
        return JSONResponse(err.body(), status_code=err.status, headers=err.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, err: StarletteHTTPException):
        code = "not_found" if err.status_code == 404 else None
        return JSONResponse(ApiError(err.status_code, str(err.detail), code=code).body(), status_code=err.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, err: RequestValidationError):
        return JSONResponse(ApiError(400, str(err.errors()[:1])).body(), status_code=400)

    def authorize(request: Request) -> None:
        if key is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        # compare_digest: the time taken does not reveal how much of the key was right
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), key.encode()):
            raise ApiError(401, "missing or incorrect API key: send 'Authorization: Bearer <key>'",
                           code="invalid_api_key")

    @app.get("/health")
    async def health():
        return {"status": "ok", "models": pool.model_ids(), "queue_depth": engine.queue_depth(),
                "active_rows": engine.active()}

    @app.get("/metrics")
    async def prometheus(request: Request):
        authorize(request)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def model_card(model_id: str, variant: Variant) -> dict[str, Any]:
        card = {"id": model_id, "object": "model", "created": started_at, "owned_by": "expertune",
                "root": variant.label}
        if variant.adapter is not None:
            card.update(adapter=variant.adapter.name, version=variant.adapter.version, sha256=variant.adapter.sha256)
        return card

    @app.get("/v1/models")
    async def models(request: Request):
        authorize(request)
        return {"object": "list", "data": [model_card(m, v) for m, v in pool.served()]}

    @app.get("/v1/models/{model:path}")
    async def model(request: Request, model: str):
        authorize(request)
        for model_id, variant in pool.served():
            if model_id == model:
                return model_card(model_id, variant)
        raise ApiError(404, f"model {model!r} is not served here", param="model", code="model_not_found")

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        arrived = time.monotonic()
        authorize(request)
        req = parse_request(await _body(request, config.max_request_bytes))
        max_tokens = req.max_completion_tokens or req.max_tokens or config.default_max_tokens
        if max_tokens > config.max_tokens_limit:
            raise ApiError(400, f"max_tokens {max_tokens} exceeds this server's limit {config.max_tokens_limit}",
                           param="max_tokens")
        if req.n > config.max_n:
            raise ApiError(400, f"n {req.n} exceeds this server's limit {config.max_n}", param="n")
        try:
            variant = await run_in_threadpool(pool.acquire, req.model)
        except NotFound as err:
            raise ApiError(404, str(err), param="model", code="model_not_found") from None
        try:
            job = await run_in_threadpool(Job, variant, req, max_tokens, asyncio.get_running_loop())
            if variant.context_length and len(job.prompt) + max_tokens > variant.context_length:
                raise ApiError(400, f"{len(job.prompt)} prompt tokens + max_tokens {max_tokens} exceed the model's "
                               f"context of {variant.context_length} tokens", param="messages",
                               code="context_length_exceeded")
            try:
                engine.submit(variant, job.rows)
            except QueueFull as err:
                raise ApiError(429, str(err), type="rate_limit_error", code="rate_limit_exceeded",
                               headers={"Retry-After": str(err.retry_after)}) from None
        except BaseException:
            pool.release(variant)
            raise
        if config.log_prompts:
            log.info("prompt for %s: %s", variant.label, json.dumps(req.conversation(), ensure_ascii=False))
        done = Done(pool, variant, metrics, req.model, arrived, job)
        deadline = arrived + config.request_timeout
        if req.stream:
            include_usage = bool((req.stream_options or {}).get("include_usage"))
            return StreamingResponse(_stream(job, done, deadline, include_usage), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})
        try:
            response = await _complete(request, job, deadline)
            done(response.status_code)
            return response
        except ApiError as err:
            done(err.status)
            raise
        finally:  # cancelled (server shutting down): still release the variant
            done()

    app.state.pool, app.state.engine, app.state.metrics = pool, engine, metrics
    return app


async def _body(request: Request, limit: int) -> bytes:
    too_big = ApiError(413, f"request body over {limit} bytes", code="request_too_large")
    if int(request.headers.get("content-length") or 0) > limit:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


class Job:
    """One request's rows (one per choice) and the queue their events come back on."""

    def __init__(self, variant: Variant, req: ChatRequest, max_tokens: int, loop: asyncio.AbstractEventLoop):
        self.variant, self.req, self.loop = variant, req, loop
        self.id = "chatcmpl-" + uuid.uuid4().hex
        self.created = int(time.time())
        self.prompt = variant.encode(req.conversation())
        self.events: asyncio.Queue = asyncio.Queue()
        self.first_token_at: float | None = None
        seed = req.seed if req.seed is not None else random.getrandbits(63)
        eos = variant.eos_ids
        self.choices = [ChoiceText(variant.tokenizer, req.stop, self._emitter(i)) for i in range(req.n)]
        self.rows = [DecodeRow(prompt=self.prompt, max_new_tokens=max_tokens, eos_ids=eos, temperature=req.temperature,
                               top_p=req.top_p, seed=seed + i, min_new_tokens=min(req.min_tokens, max_tokens), on_token=c.on_token, on_finish=self._finisher(i, c))
                     for i, c in enumerate(self.choices)]

    def _put(self, event) -> None:
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, event)
        except RuntimeError:  # the event loop has closed (server shutting down): nobody is waiting
            pass

    def _emitter(self, index: int):
        def emit(text: str) -> None:
            if self.first_token_at is None:
                self.first_token_at = time.monotonic()
            self._put(("delta", index, text))
        return emit

    def _finisher(self, index: int, choice: ChoiceText):
        def finish(row: DecodeRow) -> None:
            if row.finish_reason in ("stop", "length"):
                choice.finish()
            self._put(("finish", index, row))
        return finish

    def cancel(self) -> None:
        for row in self.rows:
            row.cancel()

    def usage(self) -> dict[str, int]:
        completion = sum(len(r.tokens) for r in self.rows)
        return {"prompt_tokens": len(self.prompt), "completion_tokens": completion,
                "total_tokens": len(self.prompt) + completion}

    def chunk(self, choices: list[dict[str, Any]], **extra) -> str:
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.variant.label,
                "system_fingerprint": _fingerprint(self.variant), "choices": choices, **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _fingerprint(variant: Variant) -> str:
    return "expertune-" + (variant.adapter.sha256[:16] if variant.adapter else variant.chat.base_sha256[:16])


class Done:
    """Called once when a request ends: releases its variant and records its metrics."""

    def __init__(self, pool, variant, metrics, model, arrived, job):
        self.pool, self.variant, self.metrics, self.model, self.arrived, self.job = pool, variant, metrics, model, arrived, job
        self.status = 200
        self.called = False

    def __call__(self, status: int | None = None) -> None:
        if self.called:
            return
        self.called = True
        self.job.cancel()  # a no-op for rows already finished; stops the rest (client gone)
        self.pool.release(self.variant)
        status = status or self.status
        self.metrics.requests.labels(self.model, str(status)).inc()
        self.metrics.latency.labels(self.model).observe(time.monotonic() - self.arrived)
        if self.job.first_token_at is not None:
            self.metrics.first_token.labels(self.model).observe(self.job.first_token_at - self.arrived)
        log.info("%s %s status %s prompt_tokens %d completion_tokens %d %.2f s", self.job.id, self.variant.label, status,
                 len(self.job.prompt), sum(len(r.tokens) for r in self.job.rows), time.monotonic() - self.arrived)


def _row_error(row: DecodeRow) -> ApiError:
    return ApiError(500, f"generation failed: {row.error}", type="server_error", code="generation_failed")


async def _next(job: Job, deadline: float, poll: float | None = None):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    return await asyncio.wait_for(job.events.get(), min(remaining, poll) if poll else remaining)


async def _complete(request: Request, job: Job, deadline: float) -> Response:
    texts = [""] * len(job.rows)
    finished: dict[int, DecodeRow] = {}
    while len(finished) < len(job.rows):
        try:
            event = await _next(job, deadline, poll=0.5)
        except TimeoutError:
            if time.monotonic() >= deadline:
                job.cancel()
                raise ApiError(504, "the request timed out; ask for fewer max_tokens or retry later",
                               type="server_error", code="timeout") from None
            if await request.is_disconnected():
                job.cancel()
                return Response(status_code=499)
            continue
        kind, index, payload = event
        if kind == "delta":
            texts[index] += payload
        else:
            finished[index] = payload
    errors = [r for r in finished.values() if r.finish_reason == "error"]
    if errors:
        raise _row_error(errors[0])
    choices = [{"index": i, "message": {"role": "assistant", "content": texts[i]}, "logprobs": None,
                "finish_reason": finished[i].finish_reason} for i in range(len(job.rows))]
    return JSONResponse({"id": job.id, "object": "chat.completion", "created": job.created, "model": job.variant.label,
                         "system_fingerprint": _fingerprint(job.variant), "choices": choices, "usage": job.usage()})


async def _stream(job: Job, done: Done, deadline: float, include_usage: bool) -> AsyncIterator[str]:
    try:
        yield job.chunk([{"index": i, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
                         for i in range(len(job.rows))])
        left = len(job.rows)
        while left:
            try:
                kind, index, payload = await _next(job, deadline)
            except TimeoutError:
                job.cancel()
                done.status = 504
                yield f"data: {json.dumps(ApiError(504, 'the request timed out', type='server_error', code='timeout').body())}\n\n"
                return
            if kind == "delta":
                yield job.chunk([{"index": index, "delta": {"content": payload}, "logprobs": None, "finish_reason": None}])
                continue
            left -= 1
            if payload.finish_reason == "error":
                done.status = 500
                yield f"data: {json.dumps(_row_error(payload).body())}\n\n"
                return
            yield job.chunk([{"index": index, "delta": {}, "logprobs": None, "finish_reason": payload.finish_reason}])
        if include_usage:
            yield job.chunk([], usage=job.usage())
        yield "data: [DONE]\n\n"
    finally:  # also when the client went away: the generator is closed and its rows are cancelled
        done()
