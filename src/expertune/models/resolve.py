"""Base-model resolution and the GGUF -> safetensors cache.

Resolution order: `builtin:NAME`, a local Hugging Face folder, a local `.gguf` file, a hub id.
GGUF weights are dequantised once and cached as safetensors keyed by the file's hash, so later
loads take about a second instead of ~25 s.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from expertune.cachedir import cache_dir
from expertune.errors import ConfigError
from expertune.hashing import file_sha256
from expertune.models.builtin import BUILTINS, builtin_gguf
from expertune.models.templates import fallback_template

MARKER = "expertune-model.json"


def cache_root() -> Path:
    return cache_dir() / "models"


@dataclass
class ResolvedModel:
    name: str  # as the user wrote it
    kind: str  # builtin | folder | gguf | hub
    path: str  # folder loadable by from_pretrained, or the hub id
    sha256: str | None  # of the source weights file, when there is one
    chat_template_source: str  # model | expertune-gemma-turns | expertune-generic

    def as_dict(self) -> dict:
        return asdict(self)


def resolve(name: str) -> ResolvedModel:
    """Find `name` and make sure a folder loadable by `from_pretrained` exists for it."""
    if name.startswith("builtin:"):
        gguf = builtin_gguf(name.split(":", 1)[1])
        return _from_gguf(name, "builtin", gguf)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path}: not a Hugging Face model folder (no config.json)")
        marker = _read_marker(path)
        return ResolvedModel(name, "folder", str(path.resolve()), marker.get("sha256"),
                             marker.get("chat_template_source") or _template_source(path))
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ConfigError(f"{path}: no such GGUF file")
        return _from_gguf(name, "gguf", path)
    if "/" in name and not name.startswith((".", "/")):
        from huggingface_hub.utils import HFValidationError, validate_repo_id

        try:
            validate_repo_id(name)
        except HFValidationError as err:
            raise ConfigError(f"model {name!r}: not a valid hub id ({err}); give org/name, a model folder, "
                              "a .gguf file or builtin:NAME") from None
        return ResolvedModel(name, "hub", name, None, "model")
    known = ", ".join(f"builtin:{n}" for n in BUILTINS)
    raise ConfigError(f"model {name!r}: not a builtin ({known}), a model folder, a .gguf file or a hub id (org/name)")


def _read_marker(folder: Path) -> dict:
    try:
        return json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return {}


def _template_source(folder: Path) -> str:
    return "model" if (folder / "chat_template.jinja").exists() or "chat_template" in _tokenizer_config(folder) else "none"


def _tokenizer_config(folder: Path) -> dict:
    try:
        return json.loads((folder / "tokenizer_config.json").read_text())
    except (OSError, ValueError):
        return {}


def weights_hash_memo() -> Path:
    """Where the digests of weights files are remembered (hashing.file_sha256's memo)."""
    return cache_root() / "hashes.json"


def _from_gguf(name: str, kind: str, gguf: Path) -> ResolvedModel:
    digest = file_sha256(gguf, memo=weights_hash_memo())
    folder = cache_root() / digest[:16]
    marker = _read_marker(folder)
    if marker.get("sha256") != digest:
        marker = _convert_gguf(gguf, folder, digest)
    return ResolvedModel(name, kind, str(folder), digest, marker["chat_template_source"])


def _convert_gguf(gguf: Path, folder: Path, digest: str) -> dict:
    """Dequantise a GGUF once into a safetensors folder (written to a temp name, then renamed)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from expertune.quiet import quiet_model_libraries

    quiet_model_libraries()
    os.environ.setdefault("TQDM_DISABLE", "1")  # the GGUF reader's own progress bar
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # A GGUF-loaded model refuses save_pretrained, and its config still says "quantized with gguf",
    # which would make every reload (and any merged model) unsaveable too: rebuild without it.
    config = copy.deepcopy(loaded.config)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config

    source = "model"
    if not tokenizer.chat_template:
        template, source, eos = fallback_template(config.model_type)
        tokenizer.chat_template = template
        if eos and eos in tokenizer.get_vocab():
            tokenizer.eos_token = eos
            model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids(eos)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    marker = {"sha256": digest, "source": str(gguf), "chat_template_source": source}
    (tmp / MARKER).write_text(json.dumps(marker, indent=2))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return marker
