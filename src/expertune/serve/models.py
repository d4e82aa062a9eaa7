"""The served models: one base and adapter versions on top of it, following the registry live.

A request names `BASE`, `NAME` (the registry's current version of adapter NAME) or `NAME@VERSION`.
A poller reads the registry's versions of each served name every `poll_interval` seconds (one
small query). A version not loaded yet is loaded on the poller's thread and only then becomes
current, and the newest `keep` versions are preloaded, so `adapters promote` / `rollback` between
them take effect at the next poll, without a restart and without stalling requests. A request
holds its variant (`acquire` / `release`) until it ends, so a request in flight finishes on the
version it started with; variants neither current, preloaded nor in use are dropped.

Memory: each LoRA version is a merged model (the same weights evaluation uses, so served answers
equal evaluation's) that *shares* every tensor LoRA did not touch with the base: only the merged
target matrices are new (SmolLM2-135M with q/v LoRA: 51 MiB per version instead of 513 MiB for
a full copy; ~0.4 s to build). peft's multi-adapter model (`load_adapter` / `set_adapter`) would
cost less memory but computes LoRA unmerged on every step and cannot batch two versions together
either; merged weights decode at the base's speed and equal evaluation's bit for bit. Rendering and tokenising go through the adapter's
LocalChatModel, the one evaluation uses, with the adapter's own chat template.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from expertune.errors import ConfigError, ExpertuneError, NotFound
from expertune.llm.adapters import AdapterInfo, read_adapter
from expertune.llm.base import Conversation

log = logging.getLogger("expertune.serve")


@dataclass(eq=False)
class Variant:
    """One servable model: the base, or the base with one adapter version merged in."""

    label: str  # the base model's name, or NAME@VERSION
    chat: Any  # the LocalChatModel that renders and tokenises (as evaluation does)
    model: Any
    name: str | None = None  # adapter name (None for the base)
    version: int | None = None
    adapter: AdapterInfo | None = None
    refs: int = 0
    last_used: float = field(default_factory=time.monotonic)

    @property
    def eos_ids(self) -> frozenset[int]:
        return frozenset(self.chat.eos_ids())

    @property
    def pad_id(self) -> int:
        return self.chat.tokenizer.pad_token_id

    @property
    def tokenizer(self):
        return self.chat.tokenizer

    def encode(self, conversation: Conversation) -> list[int]:
        """Prompt tokens: the chat model's own rendering (chat template + generation prompt)."""
        return self.chat.render(conversation).input_ids

    @property
    def context_length(self) -> int | None:
        return getattr(self.model.config, "max_position_embeddings", None)


def _attach(chat, model) -> None:
    # LocalChatModel loads its own weights lazily; the pool gives it the shared-weight merge instead
    # (numerically the same model), so eos_ids() and generate() on it use the served weights.
    chat._model = model


def lora_on_shared_base(base_model, adapter_path: str):
    """The base with a LoRA adapter merged in, sharing every tensor the adapter does not change.

    The module tree is deep-copied with the base's parameters pre-seeded in the copy's memo (so the
    copy *reuses* them); the LoRA-wrapped layers get private clones of their weights before peft
    merges into them in place."""
    import torch
    from peft import PeftModel
    from peft.tuners.lora import LoraLayer

    shell = copy.deepcopy(base_model, memo={id(p): p for p in base_model.parameters()})
    peft_model = PeftModel.from_pretrained(shell, adapter_path)
    for module in peft_model.modules():
        if isinstance(module, LoraLayer):
            layer = module.get_base_layer()
            layer.weight = torch.nn.Parameter(layer.weight.detach().clone(), requires_grad=False)
    merged = peft_model.merge_and_unload()
    merged.eval()
    merged.requires_grad_(False)
    return merged


def load_base(base: str) -> Variant:
    from expertune.llm.local import LocalChatModel

    # plain weights: LoRA variants are merged into copies that share them (lora_on_shared_base)
    chat = LocalChatModel(base, packed=False)
    chat.tokenizer  # noqa: B018 - fail early on a model without a chat template
    return Variant(label=base, chat=chat, model=chat.model)


def load_adapter(base: Variant, info: AdapterInfo) -> Variant:
    """A variant for one adapter version (LoRA merged on the shared base, or a full model)."""
    from expertune.llm.local import LocalChatModel

    if info.base_sha256 and info.kind == "lora" and info.base_sha256 != base.chat.base_sha256:
        raise ConfigError(f"adapter {info.label} was trained on {info.base_model} (sha256 {info.base_sha256[:12]}), "
                          f"not on the served base {base.label}; serve it with --base {info.base_model}")
    chat = LocalChatModel(base.chat.base, adapter_info=info)
    chat.tokenizer  # noqa: B018 - the adapter's own tokenizer and chat template, checked now
    model = lora_on_shared_base(base.model, info.path) if info.kind == "lora" else chat.model
    _attach(chat, model)
    return Variant(label=info.label, chat=chat, model=model, name=info.name, version=info.version, adapter=info)


class ModelPool:
    """The base and the adapters being served; `names` follow the registry of `ws`."""

    def __init__(self, base: str, adapters: list[str] = (), ws=None, *, poll_interval: float = 0.5, keep: int = 3,
                 on_change: Callable[[Variant], None] | None = None):
        self.base_name = base
        self.refs = list(adapters)
        self.ws = ws
        self.poll_interval = poll_interval
        self.keep = keep
        self.on_change = on_change
        self.base: Variant | None = None
        self.static: dict[str, Variant] = {}  # adapter folders: served as they are
        self.names: list[str] = []  # registry names: followed
        self.current: dict[str, Variant] = {}
        self.loaded: dict[tuple[str, int], Variant] = {}
        self._wanted: dict[str, set[int]] = {}  # versions worth keeping loaded (the newest), per name
        self._lock = threading.RLock()
        self._load_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- start and follow ---------------------------------------------------------------------
    def load(self) -> "ModelPool":
        """Load the base and the current version of every adapter (blocking; errors are the user's)."""
        self.base = load_base(self.base_name)
        for ref in self.refs:
            if Path(ref).expanduser().is_dir():
                variant = load_adapter(self.base, read_adapter(ref))
                self.static[variant.label if variant.name is None else variant.name] = variant
                continue
            name, _, version = ref.partition("@")
            if version:
                raise ConfigError(f"--adapter {ref}: serve a NAME (it follows the registry); clients ask for "
                                  f"{name}@{version} by that model id")
            if self.ws is None:
                raise ConfigError(f"--adapter {ref}: no workspace to resolve it in; run inside one or pass -w DIR")
            self.names.append(name)
            self.sync(name)
        return self

    def start(self) -> "ModelPool":
        if self.names and self._thread is None:
            self._thread = threading.Thread(target=self._follow, name="expertune-registry", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _follow(self) -> None:
        while not self._stop.wait(self.poll_interval):
            for name in self.names:
                try:
                    self.sync(name)
                except Exception as err:  # keep serving the version we have; say why
                    log.error("registry follow %s: %s", name, err)

    def sync(self, name: str) -> None:
        """Make the registry's current version of `name` the one served (loading it first), then
        preload one more of the `keep` newest versions, so a later promote or rollback between
        them is only a pointer swap (~0.5 s to load a version here; the swap is immediate)."""
        from expertune.store.adapters import list_adapters

        rows = list_adapters(self.ws, name)
        if not rows:
            raise NotFound(f"adapter {name!r} is not in the registry; train one with `expertune train RECIPE`")
        version = next((r.version for r in rows if r.is_current), rows[-1].version)  # as NAME resolves
        newest = sorted((r.version for r in rows if r.version != version), reverse=True)[: self.keep]
        self._wanted[name] = set(newest)
        with self._lock:
            unchanged = name in self.current and self.current[name].version == version
        if not unchanged:
            variant = self._get_or_load(name, version)
            with self._lock:
                previous = self.current.get(name)
                self.current[name] = variant
                self._evict()
            log.info("serving %s as %s (was %s)", variant.label, name, previous.label if previous else "none")
            if self.on_change:
                self.on_change(variant)
        missing = [v for v in newest if (name, v) not in self.loaded]
        if missing:
            self._get_or_load(name, missing[0])

    def _get_or_load(self, name: str, version: int) -> Variant:
        from expertune.store.adapters import resolve_adapter

        with self._load_lock:
            with self._lock:
                if (name, version) in self.loaded:
                    return self.loaded[(name, version)]
            variant = load_adapter(self.base, resolve_adapter(self.ws, f"{name}@{version}"))
            with self._lock:
                self.loaded[(name, version)] = variant
            return variant

    def _evict(self) -> None:
        spare = sorted((v for v in self.loaded.values() if v.refs == 0 and v not in self.current.values()),
                       key=lambda v: (v.version in self._wanted.get(v.name, ()), v.last_used), reverse=True)
        for v in spare[self.keep:]:
            del self.loaded[(v.name, v.version)]

    # -- requests -----------------------------------------------------------------------------
    def acquire(self, model: str) -> Variant:
        """The variant a request for `model` runs on, held until `release`. NAME@VERSION of a
        followed name is loaded on demand (call off the event loop)."""
        with self._lock:
            variant = self._lookup(model)
        if variant is None:
            name, _, version = model.partition("@")
            if name not in self.names or not version.isdigit():
                raise NotFound(f"model {model!r} is not served here; GET /v1/models lists: {', '.join(self.model_ids())}")
            try:
                variant = self._get_or_load(name, int(version))
            except ExpertuneError as err:
                raise NotFound(f"model {model!r}: {err}") from None
        with self._lock:
            variant.refs += 1
            variant.last_used = time.monotonic()
        return variant

    def release(self, variant: Variant) -> None:
        with self._lock:
            variant.refs -= 1
            self._evict()

    def _lookup(self, model: str) -> Variant | None:
        if self.base is not None and model == self.base.label:
            return self.base
        if model in self.current:
            return self.current[model]
        if model in self.static:
            return self.static[model]
        name, _, version = model.partition("@")
        if version.isdigit():
            return self.loaded.get((name, int(version)))
        return None

    def served(self) -> list[tuple[str, Variant]]:
        """(model id, variant) for every id a client may use now."""
        with self._lock:
            out = [(self.base.label, self.base)] if self.base else []
            for name, v in self.current.items():
                out.append((name, v))
            for v in sorted(self.loaded.values(), key=lambda v: (v.name, v.version)):
                out.append((v.label, v))
            out.extend(self.static.items())
            return out

    def model_ids(self) -> list[str]:
        return [model_id for model_id, _ in self.served()]
