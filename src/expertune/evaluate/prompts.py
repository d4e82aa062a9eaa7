"""Collecting the prompts of an evaluation: store splits and registered eval sets of prompts."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from expertune.data.evalsets import get_evalset
from expertune.errors import ConfigError, InputError
from expertune.evaluate.config import EvalConfig, PromptSet
from expertune.store.tables import PromptGroup, Topic
from expertune.workspace import Workspace


@dataclass
class Prompt:
    set_name: str
    in_domain: bool
    source: str
    topic: str | None
    messages: list[dict[str, str]]

    @property
    def prompt_hash(self) -> str:
        return prompt_hash(self.messages)


def prompt_hash(messages: list[dict[str, str]]) -> str:
    canonical = json.dumps([{"role": m["role"], "content": m["content"]} for m in messages], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def collect_prompts(ws: Workspace, config: EvalConfig) -> list[Prompt]:
    out: list[Prompt] = []
    for i, spec in enumerate(config.prompts):
        found = _split_prompts(ws, spec) if spec.split else _evalset_prompts(ws, spec, i)
        out.extend(found[: spec.limit] if spec.limit else found)
    return out


def _split_prompts(ws: Workspace, spec: PromptSet) -> list[Prompt]:
    with ws.session() as session:
        rows = session.execute(
            select(PromptGroup.key, PromptGroup.system, PromptGroup.context, PromptGroup.prompt, Topic.name, Topic.in_domain)
            .outerjoin(Topic, Topic.id == PromptGroup.topic_id)
            .where(PromptGroup.split == spec.split, PromptGroup.kind == "chat")
            .order_by(PromptGroup.key)
        ).all()
    if not rows:
        raise InputError(f"prompts: split {spec.split!r} has no chat prompt groups; import data and run `expertune split` "
                         f"(with --{spec.split} above 0)")
    out = []
    for key, system, context, prompt, topic, topic_in_domain in rows:
        messages = ([{"role": "system", "content": system}] if system else []) + list(context or []) + [{"role": "user", "content": prompt}]
        in_domain = spec.in_domain if spec.in_domain is not None else (topic_in_domain if topic_in_domain is not None else True)
        out.append(Prompt(spec.label, bool(in_domain), f"split:{spec.split} group {key[:12]}", topic, messages))
    return out


def _evalset_prompts(ws: Workspace, spec: PromptSet, index: int) -> list[Prompt]:
    es = get_evalset(ws, str(spec.evalset))
    if es["kind"] != "prompts":
        raise ConfigError(f"prompts.{index}.evalset: {spec.evalset!r} is a {es['kind']} set; pairwise judging needs a set of "
                          "prompts (exams and labelled sets belong under tasks:)")
    in_domain = spec.in_domain if spec.in_domain is not None else es["in_domain"]
    out = []
    for item in es["items"]:
        messages = _messages_of(item["payload"], item["text"])
        topic = item["payload"].get("topic") if isinstance(item["payload"].get("topic"), str) else None
        out.append(Prompt(spec.label, bool(in_domain), f"evalset:{es['name']}#{item['idx']} (line {item['line']})", topic, messages))
    return out


def _messages_of(payload: dict[str, Any], text: str) -> list[dict[str, str]]:
    """A prompt record's conversation up to its last user turn ("messages"), or system + prompt."""
    messages = payload.get("messages")
    if isinstance(messages, list) and messages:
        clean = [{"role": str(m.get("role")), "content": str(m.get("content", ""))} for m in messages if isinstance(m, dict)]
        while clean and clean[-1]["role"] != "user":
            clean.pop()  # a trailing reference answer is not part of the prompt
        if clean:
            return clean
    system = payload.get("system")
    head = [{"role": "system", "content": system}] if isinstance(system, str) and system.strip() else []
    return head + [{"role": "user", "content": text}]
