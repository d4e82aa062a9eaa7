"""What a run freezes of its models, and how a frozen model is opened again.

A candidate or judge is resolved to a stable identity when its run is created (base weights hash,
adapter weights hash, endpoint + model) and stored in the run's lineage (evaluate/runs.py) as one
of the records below; `chat_model` opens a frozen model again and refuses when the weights changed
since. Shared by evaluate/runs.py (candidates) and the judge kinds (evaluate/pairwise/judges.py),
so neither depends on the other for it.

Like the training records (expertune.records), these are pydantic models validated when a run is
created and when it is read back, so a damaged lineage fails naming the field instead of a
KeyError in a later stage. Their JSON is the shape runs have always stored (runs created before
these models read unchanged), and the cache identities derived from them (`model_id`,
`judge_id`) are computed exactly as before: tests/evaluate/test_frozen.py pins them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import ConfigDict, Discriminator, Tag, model_serializer

from expertune.errors import ConfigError
from expertune.evaluate.endpoints import EndpointFields
from expertune.records import AdapterInfo, Record
from expertune.workspace import Workspace


def sha256_json(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


class FrozenLocalModel(Record):
    """A local base model, with its adapter if any, resolved to its identity (`resolve_local`)."""

    type: Literal["local"] = "local"
    model_id: str  # llm.local.model_id_for: the cache identity of its generations
    base: str  # the base model as the config named it
    base_sha256: str
    adapter: AdapterInfo | None = None
    # The precision it runs in, "auto" resolved when the run was created (llm.local.resolve_precision).
    # Runs created before it existed ran in fp32.
    precision: Literal["fp32", "bf16"] = "fp32"

    @model_serializer(mode="wrap")
    def _fp32_unstated(self, handler):
        # fp32 is stored as it always was, without the key, so a plan of fp32 models is the JSON it was.
        data = handler(self)
        if data.get("precision") == "fp32":
            del data["precision"]
        return data


class FrozenLocalCandidate(FrozenLocalModel):
    """A `candidates:` entry of type local, frozen."""

    name: str
    batch_size: int = 32


class FrozenRemoteCandidate(Record):
    """A `candidates:` entry of an OpenAI-compatible endpoint, frozen."""

    name: str
    type: Literal["openai"]
    model_id: str  # llm.openai_compat.Endpoint.id
    base: str  # the endpoint's model name
    adapter: None = None  # (stored so every candidate has one)
    endpoint: EndpointFields  # the settings to call it with (the key stays in the environment)


FrozenCandidate = Annotated[Union[FrozenLocalCandidate, FrozenRemoteCandidate], Discriminator("type")]


class FrozenJudge(Record):
    """A `judges:` entry frozen by its judge kind (pairwise.judges.judge_entry): its settings as
    validated, and `judge_id`, hashed from what decides its verdicts, under which its judgments
    are cached."""

    name: str
    type: Literal["openai", "scripted", "human"]
    judge_id: str
    # The entry as its kind's settings model validated it, kept as its JSON: this module sits below
    # the judge-kind registry (plugins add kinds at run time), and the stored form of every run
    # stays as it was. The backend reads it typed (pairwise.judges.judge_settings).
    settings: dict[str, Any]
    model_id: str  # who answered, in the cost ledger


class FrozenLocalJudge(FrozenJudge, FrozenLocalModel):
    """A local judge: a judge entry with the local model it runs."""

    type: Literal["local"] = "local"


class FrozenPluginJudge(FrozenJudge):
    """A judge of a kind another distribution registers (`expertune.judges`): its freeze function
    may store more than the shipped kinds do."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    type: str


def _judge_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in ("local", "openai", "scripted", "human") else "plugin"


AnyFrozenJudge = Annotated[Union[Annotated[FrozenLocalJudge, Tag("local")], Annotated[FrozenJudge, Tag("openai")],
                                 Annotated[FrozenJudge, Tag("scripted")], Annotated[FrozenJudge, Tag("human")],
                                 Annotated[FrozenPluginJudge, Tag("plugin")]], Discriminator(_judge_tag)]


def _adapter(ws: Workspace, ref: str | None, path: str | None, where: str):
    from expertune.llm.adapters import read_adapter
    from expertune.store.adapters import resolve_adapter

    if path:
        folder = Path(path).expanduser()
        if not folder.is_absolute():
            folder = ws.root / folder
        return read_adapter(folder)
    if ref:
        try:
            return resolve_adapter(ws, ref)
        except ConfigError as err:
            raise ConfigError(f"{where}.adapter: {err}") from None
    return None


def resolve_local(ws: Workspace, model: str | None, adapter_ref: str | None, adapter_path: str | None,
                  where: str, precision: str = "fp32") -> FrozenLocalModel:
    from expertune.llm.local import base_identity, model_id_for, resolve_precision

    adapter = _adapter(ws, adapter_ref, adapter_path, where)
    base = model or (adapter.base_model if adapter else None) or ws.settings.base_model
    if adapter is not None and adapter.kind == "full":
        base_sha = adapter.base_sha256 or ""
    else:
        _, base_sha = base_identity(base)
        if adapter is not None and adapter.base_sha256 and adapter.base_sha256 != base_sha:
            raise ConfigError(f"{where}: adapter {adapter.label} was trained on a base with sha256 {adapter.base_sha256[:12]}…, "
                              f"but {base!r} has {base_sha[:12]}…; set model: to the adapter's base ({adapter.base_model})")
    precision = resolve_precision(precision)
    return FrozenLocalModel(model_id=model_id_for(base_sha, adapter, precision), base=base, base_sha256=base_sha,
                            adapter=adapter, precision=precision)


def chat_model(frozen: FrozenLocalModel | FrozenRemoteCandidate, *, batch_size: int | None = None, on_result=None):
    """The chat model of a frozen candidate or local judge, checking its weights are unchanged.
    `batch_size`: default the candidate's (local judges pass their own)."""
    if isinstance(frozen, FrozenRemoteCandidate):
        from expertune.llm.openai_compat import OpenAIChatModel

        return OpenAIChatModel(frozen.endpoint.endpoint(), on_result=on_result)
    from expertune.llm.adapters import read_adapter
    from expertune.llm.local import LocalChatModel

    if frozen.adapter is not None:
        current = read_adapter(frozen.adapter.path)
        if current.sha256 != frozen.adapter.sha256:
            raise ConfigError(f"{current.path}: the adapter's weights changed since this run was created "
                              f"(sha256 {frozen.adapter.sha256[:12]}… → {current.sha256[:12]}…); start a new run")
    model = LocalChatModel(frozen.base, adapter_info=frozen.adapter,
                           batch_size=batch_size or getattr(frozen, "batch_size", 32), precision=frozen.precision)
    if model.id != frozen.model_id:
        raise ConfigError(f"{frozen.base}: the base model's weights changed since this run was created; start a new run")
    return model
