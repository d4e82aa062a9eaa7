"""The adapter registry: every run registers its adapter with lineage; one version per name is current.

Nothing is ever deleted: promote and rollback only move the "current" pointer, and every move is
an event, so rollback knows what was current before. `find_adapter` returns the registry row
(records.AdapterRow); `resolve_adapter` returns what evaluation and serving load (llm.adapters.AdapterInfo: the
folder's marker with the registry's lineage over it).
"""

from __future__ import annotations

from pathlib import Path
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from expertune.errors import InputError, NotFound
from expertune.llm.adapters import AdapterInfo, registered_adapter
from expertune.records import AdapterRow, RunLineage, TrainingRun
from expertune.store.tables import Adapter, AdapterEvent
from expertune.workspace import Workspace


def adapter_row(a: Adapter) -> AdapterRow:
    return AdapterRow(
        id=a.id, name=a.name, version=a.version, ref=f"{a.name}@{a.version}", path=a.path,
        kind=a.recipe.get("method", "lora") if a.recipe else "lora", run_id=a.run_id,
        base_model=a.base_model, base_sha256=a.base_sha256, dataset_hash=a.dataset_hash,
        metrics=a.metrics, is_current=a.is_current, created_at=a.created_at.isoformat(), recipe=a.recipe,
    )


def _set_current(session: Session, name: str, adapter: Adapter | None, action: str) -> None:
    previous = session.scalar(select(Adapter).where(Adapter.name == name, Adapter.is_current.is_(True)))
    session.execute(update(Adapter).where(Adapter.name == name).values(is_current=False))
    if adapter is not None:
        adapter.is_current = True
    session.add(AdapterEvent(name=name, adapter_id=adapter.id if adapter else None,
                             previous_id=previous.id if previous else None, action=action))


def register_adapter(ws: Workspace, run: RunLineage | TrainingRun, adapter_dir: Path, *,
                     promote: bool = True) -> AdapterRow:
    """Add the next version of the run's adapter name (current unless promote=False)."""
    lineage = run if isinstance(run, RunLineage) else RunLineage.of_run(run)
    name = lineage.adapter_name
    with ws.session() as session:
        version = (session.scalar(select(func.max(Adapter.version)).where(Adapter.name == name)) or 0) + 1
        adapter = Adapter(
            name=name, version=version, path=str(adapter_dir), run_id=lineage.run_id,
            base_model=lineage.base_model, base_sha256=lineage.base_sha256, dataset_hash=lineage.dataset_hash,
            recipe=lineage.recipe, metrics=lineage.metrics.model_dump(mode="json"),
        )
        session.add(adapter)
        session.flush()
        session.add(AdapterEvent(name=name, adapter_id=adapter.id, previous_id=None, action="register"))
        if promote:
            _set_current(session, name, adapter, "promote")
        return adapter_row(adapter)


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


def find_adapter(ws: Workspace, ref: str) -> AdapterRow:
    """The registry row of `name`, `name@3`, `name@current` or `name@latest`."""
    with ws.session() as session:
        return adapter_row(_find(session, ref))


def resolve_adapter(ws: Workspace, ref: str) -> AdapterInfo:
    """The registered adapter `ref` as evaluation and serving load it."""
    return registered_adapter(find_adapter(ws, ref))


def list_adapters(ws: Workspace, name: str | None = None) -> list[AdapterRow]:
    with ws.session() as session:
        query = select(Adapter).order_by(Adapter.name, Adapter.version)
        if name:
            query = query.where(Adapter.name == name)
        return [adapter_row(a) for a in session.scalars(query)]


def promote(ws: Workspace, ref: str) -> AdapterRow:
    with ws.session() as session:
        adapter = _find(session, ref)
        _set_current(session, adapter.name, adapter, "promote")
        session.flush()
        return adapter_row(adapter)


def rollback(ws: Workspace, name: str) -> AdapterRow:
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
        return adapter_row(target)


def _before(session: Session, name: str, adapter_id: int | None) -> int | None:
    promo = session.scalar(select(AdapterEvent).where(AdapterEvent.name == name, AdapterEvent.action == "promote",
                                                      AdapterEvent.adapter_id == adapter_id).order_by(AdapterEvent.id.desc()))
    return promo.previous_id if promo else None
