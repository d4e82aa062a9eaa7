"""Registering a trained adapter (registry row + marker file), merging and exporting it.

The registry itself (find, list, promote, rollback) is a store concern: store/adapters.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from expertune.llm.adapters import write_marker
from expertune.records import AdapterMarker, AdapterRow, RunLineage, TrainingRun
from expertune.store.adapters import find_adapter, register_adapter
from expertune.workspace import Workspace


def register(ws: Workspace, run: TrainingRun | RunLineage, adapter_dir: Path, *, promote: bool = True) -> AdapterRow:
    """Register the run's adapter and write its marker, so every later load knows its lineage."""
    lineage = run if isinstance(run, RunLineage) else RunLineage.of_run(run)
    result = register_adapter(ws, lineage, adapter_dir, promote=promote)
    write_marker(adapter_dir, AdapterMarker(
        name=result.name, version=result.version, kind="full" if lineage.method == "full" else "lora",
        base_model=lineage.base_model, base_sha256=lineage.base_sha256, run_id=lineage.run_id,
        dataset_hash=lineage.dataset_hash, chat_template_source=lineage.chat_template_source,
        # Evaluation and serving render for this adapter as training did (llm/render.py).
        system_prompt_policy=lineage.system_prompt_policy,
    ))
    return result


def merge(ws: Workspace, ref: str, out: Path) -> dict[str, Any]:
    """Write a standalone model (base + adapter folded in) loadable by plain transformers."""
    from peft import PeftModel
    from transformers import AutoTokenizer

    from expertune.models import load_model

    info = find_adapter(ws, ref)
    if info.kind == "full":
        shutil.copytree(info.path, out, dirs_exist_ok=True)
        return {**info.model_dump(mode="json"), "merged_path": str(out)}
    base = load_model(info.base_model)
    merged = PeftModel.from_pretrained(base, info.path).merge_and_unload()
    merged.save_pretrained(out)
    AutoTokenizer.from_pretrained(info.path).save_pretrained(out)  # the adapter's chat template
    return {**info.model_dump(mode="json"), "merged_path": str(out)}


def export(ws: Workspace, ref: str, out: Path) -> dict[str, Any]:
    """Copy the adapter folder, pointing its config at a portable base-model id where one is known."""
    from expertune.models.builtin import portable_id

    info = find_adapter(ws, ref)
    shutil.copytree(info.path, out, dirs_exist_ok=True)
    config_path = out / "adapter_config.json"
    if config_path.exists():
        # The config names the local cache folder the adapter was trained from; name the hub model.
        config = json.loads(config_path.read_text())
        config["base_model_name_or_path"] = portable_id(info.base_model)
        config_path.write_text(json.dumps(config, indent=2))
    return {**info.model_dump(mode="json"), "exported_path": str(out)}
