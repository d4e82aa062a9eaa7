"""Base-model resolution and the GGUF -> safetensors cache.

Resolution order: `builtin:NAME`, a local Hugging Face folder, a local `.gguf` file, a hub id.
GGUF weights are dequantised once and cached as safetensors keyed by the file's hash, so later
loads take about a second instead of ~25 s.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from expertune.atomic import write_atomic
from expertune.errors import ConfigError
from expertune.models.builtin import BUILTINS, builtin_gguf
from expertune.models.templates import fallback_template

MARKER = "expertune-model.json"


def cache_root() -> Path:
    return Path(os.environ.get("EXPERTUNE_CACHE", Path.home() / ".cache" / "expertune")) / "models"


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


def file_sha256(path: Path) -> str:
    """sha256 of a weights file, memoised by (path, size, mtime) so a warm load does not re-read it."""
    stat = path.stat()
    memo = cache_root() / "hashes.json"
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    try:
        known = json.loads(memo.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return known[key]
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    known[key] = h.hexdigest()
    memo.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(memo, json.dumps(known))
    return known[key]


def _from_gguf(name: str, kind: str, gguf: Path) -> ResolvedModel:
    digest = file_sha256(gguf)
    folder = cache_root() / digest[:16]
    marker = _read_marker(folder)
    if marker.get("sha256") != digest:
        marker = _convert_gguf(gguf, folder, digest)
    return ResolvedModel(name, kind, str(folder), digest, marker["chat_template_source"])


def _convert_gguf(gguf: Path, folder: Path, digest: str) -> dict:
    """Dequantise a GGUF once into a safetensors folder (written to a temp name, then renamed)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from expertune.models.loading import quiet_libraries

    quiet_libraries()
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
