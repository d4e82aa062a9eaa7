"""Adapter folders: the marker file, hashing the weights, an adapter from its registry row.

An adapter folder holds adapter_config.json + adapter_model.safetensors (kind "lora") or a complete
model folder (kind "full"), the tokenizer files with the chat template used in training, and
`expertune-adapter.json` describing its lineage and the system-prompt policy it was trained with
(every path that renders for the adapter applies it, see llm/render.py).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from expertune.atomic import write_atomic
from expertune.errors import ConfigError
from expertune.hashing import file_sha256
from expertune.models.resolve import weights_hash_memo
from expertune.records import (  # noqa: F401  (AdapterInfo is imported from here too)
    RUN_FILE, AdapterInfo, AdapterMarker, AdapterRow, SystemPromptPolicy, read_run, validated,
)

ADAPTER_MARKER = "expertune-adapter.json"


def weights_sha256(folder: Path, kind: str) -> str:
    """sha256 of adapter_model.safetensors (lora) or model.safetensors (full); sharded full models
    hash the sorted list of their shard hashes."""
    single = folder / ("adapter_model.safetensors" if kind == "lora" else "model.safetensors")
    if single.is_file():
        return file_sha256(single, memo=weights_hash_memo())
    shards = sorted(folder.glob("*.safetensors"))
    if kind == "full" and shards:
        h = hashlib.sha256()
        for shard in shards:
            h.update(f"{shard.name}:{file_sha256(shard, memo=weights_hash_memo())}\n".encode())
        return h.hexdigest()
    raise ConfigError(f"{folder}: no {single.name}; an adapter folder needs its weights (see docs/evaluation.md)")


def read_adapter(folder: str | Path) -> AdapterInfo:
    """Read an adapter folder. A folder without the marker file is accepted when it is a plain
    PEFT adapter (adapter_config.json), so adapters trained elsewhere can be evaluated too."""
    path = Path(folder).expanduser().resolve()
    if not path.is_dir():
        raise ConfigError(f"{path}: adapter folder not found")
    marker = read_marker(path)
    kind = marker.kind or ("lora" if (path / "adapter_config.json").is_file() else "full")
    if kind == "lora" and not (path / "adapter_config.json").is_file():
        raise ConfigError(f"{path}: a LoRA adapter folder needs adapter_config.json")
    if kind == "full" and not (path / "config.json").is_file():
        raise ConfigError(f"{path}: neither a LoRA adapter (adapter_config.json) nor a full model (config.json)")
    return AdapterInfo(
        path=str(path), kind=kind, sha256=weights_sha256(path, kind), name=marker.name, version=marker.version,
        base_model=marker.base_model or _peft_base(path), base_sha256=marker.base_sha256, run_id=marker.run_id,
        dataset_hash=marker.dataset_hash, chat_template_source=marker.chat_template_source,
        system_prompt_policy=marker.system_prompt_policy or _run_policy(path),
    )


def read_marker(folder: Path) -> AdapterMarker:
    """The folder's marker file; an empty marker when there is none (a plain PEFT folder)."""
    marker_path = Path(folder) / ADAPTER_MARKER
    if not marker_path.is_file():
        return AdapterMarker()
    try:
        data = json.loads(marker_path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ConfigError(f"{marker_path}: not valid JSON ({err}); re-save the adapter") from None
    return validated(AdapterMarker, data, marker_path, "adapter marker", "re-save the adapter", error=ConfigError)


def _run_policy(path: Path) -> SystemPromptPolicy | None:
    """The policy in the run record next to an adapter whose marker predates recording it
    (runs/<id>/adapter beside runs/<id>/run.json). A folder that is not in a run has none; a
    run record that cannot be read is an error naming the file (records.read_run)."""
    if not (path.parent / RUN_FILE).is_file():
        return None
    return read_run(path.parent).system_prompt_policy


def _peft_base(path: Path) -> str | None:
    try:
        return json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path") or None
    except (OSError, ValueError):
        return None


def registered_adapter(row: AdapterRow) -> AdapterInfo:
    """The adapter of a registry row (store.adapters.find_adapter): its folder, with the
    registry's name, version and lineage over the marker's."""
    info = read_adapter(row.path)
    info.name, info.version, info.registry_id = row.name, row.version, row.id
    for key in ("base_model", "base_sha256", "dataset_hash", "run_id"):
        if getattr(row, key):
            setattr(info, key, getattr(row, key))
    info.recipe = dict(row.recipe or {})
    if info.system_prompt_policy is None and info.recipe.get("system_prompt"):
        # Adapters registered before the marker recorded the policy: their recipe has it.
        info.system_prompt_policy = SystemPromptPolicy(mode=info.recipe["system_prompt"],
                                                       text=info.recipe.get("system_prompt_text"))
    return info


def write_marker(folder: Path, marker: AdapterMarker) -> None:
    """Write the marker file that read_adapter reads (written once, when a run registers it)."""
    write_atomic(Path(folder) / ADAPTER_MARKER, marker.model_dump_json(indent=2))
