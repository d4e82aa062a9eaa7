"""Dataset versions: immutable snapshots of the exported dataset that later runs cite."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from expertune.data.export import iter_rows, write_jsonl
from expertune.data.splits import SPLITS
from expertune.errors import InputError, NotFound
from expertune.store.tables import DatasetVersion, DatasetVersionItem
from expertune.workspace import Workspace


def snapshot(ws: Workspace, *, name: str | None = None, note: str | None = None) -> dict[str, Any]:
    """Record the accepted responses of all splits as a dataset version.

    The hash is over the exported content itself, so the same data gives the same version:
    snapshotting twice without changes returns the existing version.
    """
    with ws.session() as session:
        rows = list(iter_rows(session, "all"))
        if not rows:
            raise InputError("nothing to snapshot: the store has no accepted responses; run `expertune import` first")
        lines = {s: [] for s in SPLITS}
        for r in rows:
            lines[r.split].append(json.dumps(r.as_prompt_completion(), ensure_ascii=False, sort_keys=True))
        digest = hashlib.sha256()
        for s in SPLITS:
            digest.update(f"\x00{s}\x00".encode())
            digest.update("\n".join(lines[s]).encode("utf-8"))
        content_hash = digest.hexdigest()
        existing = session.scalar(select(DatasetVersion).where(DatasetVersion.content_hash == content_hash))
        if existing:
            return {**version_dict(existing), "created": False}

        folder = ws.exports_dir / "versions" / content_hash[:12]
        for s in SPLITS:
            write_jsonl((json.loads(line) for line in lines[s]), folder / f"{s}.jsonl")
        counts = {
            "responses": {s: len(lines[s]) for s in SPLITS},
            "groups": {s: len({r.group_id for r in rows if r.split == s}) for s in SPLITS},
            "topics": dict(Counter(r.topic or "(none)" for r in rows)),
        }
        version = DatasetVersion(content_hash=content_hash, name=name, note=note, path=str(folder), counts=counts)
        session.add(version)
        session.flush()
        session.execute(
            insert(DatasetVersionItem),
            [
                {"version_id": version.id, "response_id": r.response_id, "response_version": r.response_version,
                 "group_id": r.group_id, "split": r.split}
                for r in rows
            ],
        )
        (folder / "manifest.json").write_text(json.dumps({**version_dict(version)}, indent=2), encoding="utf-8")
        return {**version_dict(version), "created": True}


def version_dict(v: DatasetVersion) -> dict[str, Any]:
    return {
        "id": v.id,
        "hash": v.content_hash,
        "name": v.name,
        "note": v.note,
        "path": v.path,
        "counts": v.counts,
        "created_at": v.created_at.isoformat() if v.created_at else None,
    }


def list_versions(ws: Workspace) -> list[dict[str, Any]]:
    with ws.session(readonly=True) as session:
        return [version_dict(v) for v in session.scalars(select(DatasetVersion).order_by(DatasetVersion.id))]


def get_version(ws: Workspace, ref: str | None = None) -> dict[str, Any]:
    """A version by id, name or hash prefix; the newest when `ref` is None."""
    versions = list_versions(ws)
    if not versions:
        raise NotFound("no dataset versions yet; run `expertune snapshot`")
    if ref is None:
        return versions[-1]
    matches = [v for v in versions if str(v["id"]) == ref or v["name"] == ref or v["hash"].startswith(ref)]
    if len(matches) != 1:
        known = ", ".join(f"{v['id']} ({v['hash'][:12]})" for v in versions[-5:])
        raise NotFound(f"dataset version {ref!r}: {'ambiguous' if matches else 'not found'}; known: {known}")
    return matches[0]


def version_split_path(version: dict[str, Any], split: str) -> Path:
    return Path(version["path"]) / f"{split}.jsonl"
