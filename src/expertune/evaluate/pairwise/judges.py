"""The shipped judge kinds, each registered with `@judge_kind` (evaluate/registry.py): local models
(label log-probabilities), OpenAI-compatible endpoints, scripted Python functions (tests and
experiments, Python API only), and human experts (judged in `eval human`, no backend). A kind is its
`judges:` settings model (evaluate/config.py), how an entry is frozen into the run's lineage, and
its backend. Judge kinds of other distributions come from the `expertune.judges` entry points,
loaded by `all_judge_kinds()`.

Every backend turns JudgeRequests into JudgeOutcomes and hands each outcome to a callback as soon
as it exists, so the stage can store it at once: a run killed mid-way loses only the requests in
flight. A request that cannot be judged (HTTP errors, unreadable replies after the re-prompts)
becomes a failed outcome, which is reported but never counted and never cached.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, TypeAdapter, ValidationError

from expertune.errors import ConfigError, InputError
from expertune.evaluate import registry
from expertune.evaluate.frozen import (
    AnyFrozenJudge, FrozenJudge, FrozenLocalJudge, chat_model, resolve_local, sha256_json,
)
from expertune.evaluate.pairwise import judge_settings as settings
from expertune.evaluate.pairwise.verdicts import (
    TEMPLATE_VERSION, ParseError, choice_messages, judge_messages, parse_verdict, reprompt, response_format,
    score_messages,
)
from expertune.evaluate.registry import JudgeKind, judge_kind, register_judge_kind
from expertune.evaluate.rubric import Rubric
from expertune.llm.base import Message
from expertune.llm.openai_compat import ChatResult, EndpointError
from expertune.records import describe_validation


@dataclass
class JudgeRequest:
    key: str
    conversation: list[Message]
    answers: dict[str, str]  # label -> answer text, in slot order
    mapping: dict[str, dict[str, Any]]  # label -> {"answer": sha256, "candidate": name, "generation": key}
    flags: dict[str, Any] = field(default_factory=dict)


@dataclass
class JudgeOutcome:
    key: str
    status: str  # ok | failed | skipped (budget reached: not stored, judged next time)
    verdict: str | None = None
    scores: dict[str, Any] | None = None
    reason: str | None = None
    raw: str | None = None
    attempts: int = 0
    error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


class Budget:
    """Spending limit for paid calls: a call starts only if what is spent, what is reserved by
    calls in flight and this call's estimate stay within the limit."""

    def __init__(self, limit_usd: float | None, spent_usd: float = 0.0):
        self.limit = limit_usd
        self.spent = spent_usd
        self.reserved = 0.0
        self.stopped = False

    def reserve(self, estimate: float) -> bool:
        if self.limit is not None and self.spent + self.reserved + estimate > self.limit + 1e-12:
            self.stopped = True
            return False
        self.reserved += estimate
        return True

    def settle(self, estimate: float, actual: float) -> None:
        self.reserved = max(0.0, self.reserved - estimate)
        self.spent += actual


def estimate_tokens(messages: list[Message]) -> int:
    """Rough prompt size (about 3.5 characters per token for English text) for the estimate."""
    return int(sum(len(m["content"]) for m in messages) / 3.5) + 8 * len(messages)


# -- freezing a judges: entry into the run's lineage ----------------------------------------------
_FROZEN_JUDGE: TypeAdapter[FrozenJudge] = TypeAdapter(AnyFrozenJudge)


def judge_entry(judge: Any, identity: dict[str, Any], **frozen: Any) -> FrozenJudge:
    """The lineage entry of a `judges:` entry: its settings, and a judge_id hashed from what decides
    its verdicts (`identity`), under which its judgments are cached. `frozen`: what else the kind
    stores (model_id, always: who answered)."""
    return _FROZEN_JUDGE.validate_python({"name": judge.name, "type": judge.type, "judge_id": sha256_json(identity),
                                          "settings": judge.model_dump(mode="json"), **frozen})


def freeze_local(ws: Any, j: settings.LocalJudge, where: str) -> FrozenJudge:
    frozen = resolve_local(ws, j.model, j.adapter, j.adapter_path, where)
    identity = {"type": "local", "model_id": frozen.model_id, "rubric_scores": j.rubric_scores,
                "tie_margin": j.tie_margin, "template": TEMPLATE_VERSION}
    return judge_entry(j, identity, **dict(frozen))


def freeze_openai(ws: Any, j: settings.OpenAIJudge, where: str) -> FrozenJudge:
    j.endpoint().api_key()  # fail before generating, not when judging starts
    identity = {"type": "openai", "model_id": j.endpoint().id, "temperature": j.temperature,
                "max_tokens": j.max_tokens, "response_format": j.response_format, "template": TEMPLATE_VERSION,
                "extra_body": j.extra_body}
    return judge_entry(j, identity, model_id=j.endpoint().id)


def freeze_scripted(ws: Any, j: settings.ScriptedJudge, where: str) -> FrozenJudge:
    identity = {"type": "scripted", "script": j.script, "template": TEMPLATE_VERSION}
    return judge_entry(j, identity, model_id=f"scripted:{j.script}")


# -- scripted judges ------------------------------------------------------------------------------
@dataclass
class ScriptCall:
    conversation: list[Message]
    answers: dict[str, str]  # label -> answer, in slot order
    labels: list[str]
    attempt: int  # 1 for the first ask, 2+ for re-prompts after an unreadable reply
    messages: list[Message]  # the full prompt an API judge would receive


# name -> function(ScriptCall) -> reply text (may raise llm.openai_compat.EndpointError)
SCRIPTS: dict[str, Callable[[ScriptCall], str]] = {}


def register_script(name: str, fn: Callable[[ScriptCall], str]) -> None:
    SCRIPTS[name] = fn


# -- chat judges (OpenAI-compatible endpoints and scripts) ---------------------------------------
FORMAT_STEPS = ("json_schema", "json_object", "none")


@judge_kind("scripted", config=settings.ScriptedJudge, freeze=freeze_scripted,
            description="a Python function registered with register_script (tests, experiments)")
@judge_kind("openai", config=settings.OpenAIJudge, freeze=freeze_openai, description="an OpenAI-compatible endpoint")
class ChatJudge:
    """Asks for the rubric JSON, re-prompts on unreadable replies, runs `concurrency` at once."""

    def __init__(self, frozen: FrozenJudge, rubric: Rubric):
        self.frozen = frozen
        self.settings: settings.ScriptedJudge | settings.OpenAIJudge = judge_settings(frozen)
        self.rubric = rubric
        self.kind = frozen.type
        self.concurrency = self.settings.concurrency
        self.max_parse_attempts = self.settings.max_parse_attempts
        wanted = getattr(self.settings, "response_format", "none")  # a script's reply is plain text
        self.format_kind = "json_schema" if wanted == "auto" else wanted
        self.format_fallback = wanted == "auto"
        if isinstance(self.settings, settings.ScriptedJudge):
            script = self.settings.script
            if script not in SCRIPTS:
                raise ConfigError(f"judge {frozen.name!r}: no scripted judge named {script!r} is registered "
                                  "(scripted judges exist for tests, via expertune.evaluate.pairwise.judges.register_script)")
            self.script = SCRIPTS[script]
            self.endpoint = None
        else:
            self.endpoint = self.settings.endpoint()

    def estimate(self, request: JudgeRequest) -> float:
        if self.endpoint is None:
            return 0.0
        messages = judge_messages(request.conversation, request.answers, self.rubric)
        return self.endpoint.cost(estimate_tokens(messages), self.settings.max_tokens)

    def run(self, requests: list[JudgeRequest], on_outcome: Callable[[JudgeOutcome], None], budget: Budget) -> None:
        if requests:
            asyncio.run(self._run(requests, on_outcome, budget))

    async def _run(self, requests, on_outcome, budget) -> None:
        from expertune.llm.openai_compat import OpenAIEndpointClient

        slots = asyncio.Semaphore(self.concurrency)
        client = OpenAIEndpointClient(self.endpoint) if self.endpoint is not None else None

        async def one(request: JudgeRequest) -> JudgeOutcome:
            async with slots:
                estimate = self.estimate(request)
                if not budget.reserve(estimate):
                    return JudgeOutcome(request.key, "skipped", error="budget reached")
                outcome = await self._judge(client, request)
                budget.settle(estimate, outcome.cost_usd)
                return outcome

        tasks = [asyncio.create_task(one(r)) for r in requests]
        try:
            for finished in asyncio.as_completed(tasks):
                on_outcome(await finished)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if client is not None:
                await client.__aexit__(None, None, None)

    async def _judge(self, client, request: JudgeRequest) -> JudgeOutcome:
        messages = judge_messages(request.conversation, request.answers, self.rubric)
        out = JudgeOutcome(request.key, "failed")
        started = time.perf_counter()
        problem = None
        for attempt in range(1, self.max_parse_attempts + 1):
            try:
                result = await self._complete(client, request, messages, attempt)
            except EndpointError as err:
                out.attempts += err.attempts
                out.error = str(err)
                break  # the endpoint client already retried transient errors
            out.attempts += result.attempts
            out.input_tokens += result.input_tokens
            out.output_tokens += result.output_tokens
            out.raw = result.text
            try:
                v = parse_verdict(result.text, self.rubric)
            except ParseError as err:
                problem = str(err)
                out.error = f"unreadable reply after {attempt} attempt(s): {problem}"
                messages = [*messages, {"role": "assistant", "content": result.text[:4000]},
                            {"role": "user", "content": reprompt(problem, self.rubric)}]
                continue
            out.status, out.verdict, out.scores, out.reason, out.problems, out.error = "ok", v.verdict, v.scores, v.reason, v.problems, None
            break
        out.cost_usd = self.endpoint.cost(out.input_tokens, out.output_tokens) if self.endpoint else 0.0
        out.seconds = time.perf_counter() - started
        return out

    async def _complete(self, client, request: JudgeRequest, messages: list[Message], attempt: int) -> ChatResult:
        if client is None:
            call = ScriptCall(request.conversation, dict(request.answers), list(self.rubric.labels), attempt, messages)
            return ChatResult(text=self.script(call), finish_reason="stop")
        while True:
            used = self.format_kind
            try:
                return await client.chat(messages, temperature=self.settings.temperature,
                                         max_tokens=self.settings.max_tokens,
                                         response_format=response_format(self.rubric, used))
            except EndpointError as err:
                if err.status == 400 and self.format_fallback and used != "none" and _about_format(str(err)):
                    # The server does not support this response_format: step down and ask again.
                    self._step_down_from(used)
                    continue
                if not err.retryable and err.status in (401, 403, 404):
                    raise ConfigError(f"judge {self.frozen.name!r}: {err}; check base_url, model and "
                                      f"{self.settings.api_key_env or 'the API key'}") from None
                raise


    def _step_down_from(self, used: str) -> None:
        """The shared format after a refusal of `used`: one step below it, never lower. Requests in
        flight together are refused together; stepping down from the current setting instead of
        from the format each one used would drop to plain text (and then fail the rest)."""
        below = FORMAT_STEPS.index(used) + 1
        if below > FORMAT_STEPS.index(self.format_kind):
            self.format_kind = FORMAT_STEPS[below]


def _about_format(message: str) -> bool:
    text = message.lower()
    return any(word in text for word in ("response_format", "json_schema", "json_object", "structured", "schema"))


# -- local judges ---------------------------------------------------------------------------------
@judge_kind("local", config=settings.LocalJudge, freeze=freeze_local,
            description="a local model: the label with the higher next-token probability")
class LocalJudge:
    """A local model's verdict is the label with the higher next-token log-probability, so it
    always yields a verdict (no parsing). Rubric scores, when enabled, are the expected digit
    under the model's distribution over the scale's digits."""

    chunk = 16  # requests scored (and stored) per step

    def __init__(self, frozen: FrozenLocalJudge, rubric: Rubric, model=None):
        self.frozen = frozen
        self.settings: settings.LocalJudge = judge_settings(frozen)
        self.rubric = rubric
        self.model = model or chat_model(frozen, batch_size=self.settings.batch_size)

    def estimate(self, request: JudgeRequest) -> float:
        return 0.0

    def run(self, requests: list[JudgeRequest], on_outcome: Callable[[JudgeOutcome], None], budget: Budget) -> None:
        labels = list(self.rubric.labels)
        margin = self.settings.tie_margin
        for start in range(0, len(requests), self.chunk):
            chunk = requests[start:start + self.chunk]
            started = time.perf_counter()
            convs = [choice_messages(r.conversation, r.answers, labels) for r in chunk]
            logprobs = self.model.next_token_logprobs(convs, labels)
            scores = self._scores(chunk) if self.settings.rubric_scores else [None] * len(chunk)
            seconds = (time.perf_counter() - started) / len(chunk)
            for request, lp, sc in zip(chunk, logprobs, scores):
                diff = lp[labels[0]] - lp[labels[1]]
                verdict = "tie" if abs(diff) <= margin else labels[0] if diff > 0 else labels[1]
                p_first = 1 / (1 + math.exp(-diff))
                on_outcome(JudgeOutcome(request.key, "ok", verdict=verdict, scores=sc, attempts=1, seconds=seconds,
                                        reason=f"P({labels[0]})={p_first:.3f} vs P({labels[1]})={1 - p_first:.3f} (next-token probabilities)",
                                        raw=f'{{"logprobs": {{"{labels[0]}": {lp[labels[0]]:.4f}, "{labels[1]}": {lp[labels[1]]:.4f}}}}}'))

    def _scores(self, chunk: list[JudgeRequest]) -> list[dict[str, dict[str, float]]]:
        r = self.rubric
        digits = [str(d) for d in range(r.scale_min, r.scale_max + 1)]
        jobs = [(i, label, c) for i in range(len(chunk)) for label in r.labels for c in r.criteria]
        convs = [score_messages(chunk[i].conversation, chunk[i].answers, label, c.name, c.description, r.scale_min, r.scale_max)
                 for i, label, c in jobs]
        out: list[dict[str, dict[str, float]]] = [{} for _ in chunk]
        for (i, label, c), lp in zip(jobs, self.model.next_token_logprobs(convs, digits)):
            weights = [math.exp(lp[d]) for d in digits]
            expected = sum(int(d) * w for d, w in zip(digits, weights)) / sum(weights)
            out[i].setdefault(label, {})[c.name] = round(expected, 3)
        return out


# -- human judges ---------------------------------------------------------------------------------
HUMAN_PREFIX = "human:"  # a human judge is stored as the judge `human:NAME`
HUMAN_NAME = re.compile(r"^[\w.@-]{1,100}$")


def human_judge(name: str) -> FrozenJudge:
    """The frozen judge entry of a human, as the run lineage's judges are."""
    if not HUMAN_NAME.match(name or ""):
        raise ConfigError(f"human judge name {name!r}: use 1-100 letters, digits, '.', '_', '@' or '-' (e.g. --name alice)")
    return FrozenJudge(name=HUMAN_PREFIX + name, type="human", judge_id=sha256_json({"type": "human", "name": name}),
                       model_id=HUMAN_PREFIX + name, settings={"name": name, "type": "human"})


# Judged by people in `eval human` (evaluate/pairwise/human.py), so no backend.
register_judge_kind(JudgeKind("human", settings.HumanJudge, lambda ws, j, where: human_judge(j.name),
                              description="a domain expert judging blind in `eval human`"))


# -- the kinds ------------------------------------------------------------------------------------
# The kinds registered above: the `judges:` types every expertune has (the eval config validates an
# entry with its kind's settings model; plugin kinds come from all_judge_kinds()).
SHIPPED_JUDGE_KINDS = tuple(registry.JUDGE_KINDS)


def all_judge_kinds() -> dict[str, JudgeKind]:
    """Every judge kind: the shipped ones above, then those of installed plugins (loaded once)."""
    registry.load_judge_plugins()
    return registry.JUDGE_KINDS


def judge_settings(frozen: FrozenJudge) -> BaseModel:
    """A frozen judge's settings read through the settings model its kind registers, as the backend
    that runs it uses them. The lineage keeps them as the JSON they were frozen as (FrozenJudge.settings
    in frozen.py, which sits below this registry and cannot know a plugin's kinds); a stored entry
    that its kind's model no longer accepts fails here, naming the judge and the field."""
    kind = all_judge_kinds().get(frozen.type)
    if kind is None:
        raise ConfigError(f"judge {frozen.name!r}: no judge kind {frozen.type!r} is installed")
    try:
        return kind.config_model.model_validate(frozen.settings)
    except ValidationError as err:
        raise InputError(f"judge {frozen.name!r}: its stored settings are not valid {frozen.type} settings "
                         f"({describe_validation(err)}); start a new run") from None


def make_judge(frozen: FrozenJudge, rubric: Rubric):
    """The backend of a frozen judge, by its kind."""
    kind = all_judge_kinds().get(frozen.type)
    if kind is None or kind.make is None:
        raise ConfigError(f"judge {frozen.name!r}: no judging backend for type {frozen.type!r} "
                          f"(installed: {', '.join(k for k, v in registry.JUDGE_KINDS.items() if v.make) or 'none'})")
    return kind.make(frozen, rubric)
