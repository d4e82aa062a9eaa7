"""Adapter registry: every run registers its adapter with lineage; one version per name is current.

Nothing is ever deleted: promote and rollback only move the "current" pointer, and every move is
an event, so rollback knows what was current before.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from expertune.errors import InputError, NotFound
from expertune.llm.render import SystemPolicy
from expertune.store.models import Adapter, AdapterEvent
from expertune.workspace import Workspace

MARKER = "expertune-adapter.json"


def adapter_dict(a: Adapter) -> dict[str, Any]:
    return {
        "id": a.id, "name": a.name, "version": a.version, "ref": f"{a.name}@{a.version}", "path": a.path,
        "kind": a.recipe.get("method", "lora") if a.recipe else "lora", "run_id": a.run_id,
        "base_model": a.base_model, "base_sha256": a.base_sha256, "dataset_hash": a.dataset_hash,
        "metrics": a.metrics, "is_current": a.is_current, "created_at": a.created_at.isoformat(),
        "recipe": a.recipe,
    }


def _set_current(session: Session, name: str, adapter: Adapter | None, action: str) -> None:
    previous = session.scalar(select(Adapter).where(Adapter.name == name, Adapter.is_current.is_(True)))
    session.execute(update(Adapter).where(Adapter.name == name).values(is_current=False))
    if adapter is not None:
        adapter.is_current = True
    session.add(AdapterEvent(name=name, adapter_id=adapter.id if adapter else None,
                             previous_id=previous.id if previous else None, action=action))


def register(ws: Workspace, run: dict[str, Any], adapter_dir: Path, *, promote: bool = True) -> dict[str, Any]:
    recipe = run["recipe"]
    name = recipe["adapter_name"]
    with ws.session() as session:
        version = (session.scalar(select(func.max(Adapter.version)).where(Adapter.name == name)) or 0) + 1
        adapter = Adapter(
            name=name, version=version, path=str(adapter_dir), run_id=run["id"],
            base_model=run["base_model"]["name"], base_sha256=run["base_model"].get("sha256"),
            dataset_hash=run["dataset_version"]["hash"], recipe=recipe,
            metrics={k: run.get(k) for k in ("best_step", "best_eval_loss", "train_loss", "steps", "trained_tokens",
                                             "tokens_per_second", "wall_seconds")},
        )
        session.add(adapter)
        session.flush()
        session.add(AdapterEvent(name=name, adapter_id=adapter.id, previous_id=None, action="register"))
        if promote:
            _set_current(session, name, adapter, "promote")
        result = adapter_dict(adapter)
    marker = {
        "name": name, "version": version, "kind": "full" if recipe["method"] == "full" else "lora",
        "base_model": run["base_model"]["name"], "base_sha256": run["base_model"].get("sha256"),
        "run_id": run["id"], "dataset_hash": run["dataset_version"]["hash"],
        "chat_template_source": run["base_model"].get("chat_template_source"),
        # Evaluation and serving render for this adapter as training did (llm/render.py).
        "system_prompt_policy": SystemPolicy.from_recipe(recipe).as_dict(),
    }
    (adapter_dir / MARKER).write_text(json.dumps(marker, indent=2))
    return result


def _parse_ref(ref: str) -> tuple[str, str | None]:
    name, _, version = ref.partition("@")
    return name, version or None


def _find(session: Session, ref: str) -> Adapter:
    name, version = _parse_ref(ref)
    query = select(Adapter).where(Adapter.name == name)
    if version in (None, "current"):
        found = session.scalar(query.where(Adapter.is_current.is_(True)))
        if found is None and version is None:
            found = session.scalar(query.order_by(Adapter.version.desc()))
    elif version == "latest":
        found = session.scalar(query.order_by(Adapter.version.desc()))
    else:
        if not version.isdigit():
            raise InputError(f"adapter {ref!r}: expected NAME, NAME@VERSION, NAME@current or NAME@latest")
        found = session.scalar(query.where(Adapter.version == int(version)))
    if found is None:
        known = ", ".join(f"{a.name}@{a.version}" for a in session.scalars(select(Adapter).order_by(Adapter.id))) or "none"
        raise NotFound(f"adapter {ref!r} not found (registered: {known}); train one with `expertune train RECIPE`")
    return found


def resolve_adapter(ws: Workspace, ref: str) -> dict[str, Any]:
    with ws.session() as session:
        return adapter_dict(_find(session, ref))


def list_adapters(ws: Workspace, name: str | None = None) -> list[dict[str, Any]]:
    with ws.session() as session:
        query = select(Adapter).order_by(Adapter.name, Adapter.version)
        if name:
            query = query.where(Adapter.name == name)
        return [adapter_dict(a) for a in session.scalars(query)]


def promote(ws: Workspace, ref: str) -> dict[str, Any]:
    with ws.session() as session:
        adapter = _find(session, ref)
        _set_current(session, adapter.name, adapter, "promote")
        session.flush()
        return adapter_dict(adapter)


def rollback(ws: Workspace, name: str) -> dict[str, Any]:
    """Make current again whatever was current before the latest promotion."""
    with ws.session() as session:
        last = session.scalar(select(AdapterEvent).where(AdapterEvent.name == name, AdapterEvent.action.in_(("promote", "rollback")))
                              .order_by(AdapterEvent.id.desc()))
        if last is None or last.previous_id is None:
            raise InputError(f"adapter {name!r}: nothing to roll back to (no earlier current version)")
        if last.action == "rollback":
            # Walk back through the promotion history: a rollback after a rollback goes one further.
            target_id = _before(session, name, last.adapter_id)
        else:
            target_id = last.previous_id
        if target_id is None:
            raise InputError(f"adapter {name!r}: no earlier current version to roll back to")
        target = session.get(Adapter, target_id)
        _set_current(session, name, target, "rollback")
        session.flush()
        return adapter_dict(target)


def _before(session: Session, name: str, adapter_id: int | None) -> int | None:
    promo = session.scalar(select(AdapterEvent).where(AdapterEvent.name == name, AdapterEvent.action == "promote",
                                                      AdapterEvent.adapter_id == adapter_id).order_by(AdapterEvent.id.desc()))
    return promo.previous_id if promo else None


def merge(ws: Workspace, ref: str, out: Path) -> dict[str, Any]:
    """Write a standalone model (base + adapter folded in) loadable by plain transformers."""
    from peft import PeftModel
    from transformers import AutoTokenizer

    from expertune.models import load_model

    info = resolve_adapter(ws, ref)
    if info["kind"] == "full":
        shutil.copytree(info["path"], out, dirs_exist_ok=True)
        return {**info, "merged_path": str(out)}
    base = load_model(info["base_model"])
    merged = PeftModel.from_pretrained(base, info["path"]).merge_and_unload()
    merged.save_pretrained(out)
    AutoTokenizer.from_pretrained(info["path"]).save_pretrained(out)  # the adapter's chat template
    return {**info, "merged_path": str(out)}


def export(ws: Workspace, ref: str, out: Path) -> dict[str, Any]:
    """Copy the adapter folder, pointing its config at a portable base-model id where one is known."""
    from expertune.models.builtin import portable_id

    info = resolve_adapter(ws, ref)
    shutil.copytree(info["path"], out, dirs_exist_ok=True)
    config_path = out / "adapter_config.json"
    if config_path.exists():
        # The config names the local cache folder the adapter was trained from; name the hub model.
        config = json.loads(config_path.read_text())
        config["base_model_name_or_path"] = portable_id(info["base_model"])
        config_path.write_text(json.dumps(config, indent=2))
    return {**info, "exported_path": str(out)}
