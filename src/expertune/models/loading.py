"""Loading base models and tokenizers from a resolved model."""

from __future__ import annotations

import os
from typing import Any

from expertune.quiet import quiet_model_libraries
from expertune.models.resolve import ResolvedModel, resolve

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load_tokenizer(model: str | ResolvedModel):
    from transformers import AutoTokenizer

    resolved = resolve(model) if isinstance(model, str) else model
    tok = AutoTokenizer.from_pretrained(resolved.path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(model: str | ResolvedModel, *, dtype: Any = None, device: str | None = None):
    import torch
    from transformers import AutoModelForCausalLM

    quiet_model_libraries()
    resolved = resolve(model) if isinstance(model, str) else model
    m = AutoModelForCausalLM.from_pretrained(resolved.path, dtype=dtype or torch.float32)
    if device:
        m.to(device)
    return m


def model_info(model: str) -> dict[str, Any]:
    from transformers import AutoConfig

    resolved = resolve(model)
    config = AutoConfig.from_pretrained(resolved.path)
    tok = load_tokenizer(resolved)
    params = count_parameters(resolved.path)
    return {
        **resolved.as_dict(),
        "architecture": (config.architectures or [config.model_type])[0],
        "model_type": config.model_type,
        "parameters": params,
        "context_length": getattr(config, "max_position_embeddings", None),
        "vocab_size": getattr(config, "vocab_size", None),
        "eos_token": tok.eos_token,
        "has_chat_template": bool(tok.chat_template),
    }


def count_parameters(path: str) -> int | None:
    """Parameter count from the safetensors headers of a model folder, without loading the
    weights (None for a hub id or a folder without safetensors)."""
    import json
    import struct
    from pathlib import Path

    total = 0
    files = list(Path(path).glob("*.safetensors")) if Path(path).is_dir() else []
    if not files:
        return None
    for f in files:
        with f.open("rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n))
        for key, meta in header.items():
            if key != "__metadata__":
                count = 1
                for d in meta["shape"]:
                    count *= d
                total += count
    return total
