"""Small workspaces with planted problems for the curation tests."""

from __future__ import annotations

import yaml
from sqlalchemy import select, update

from conftest import chat_record, write_jsonl
from expertune.data.ingest import import_file
from expertune.store.tables import PromptGroup, Response
from expertune.workspace import SETTINGS_FILE, Workspace


def record(prompt: str, answer: str, *, topic: str = "T", system: str | None = "Be accurate.", context=(), **extra) -> dict:
    return chat_record(prompt, answer, system=system, context=context, topic=topic, **extra)


def build(ws: Workspace, records: list[dict], *, splits: dict[str, str] | None = None, default_split: str | None = "train") -> Workspace:
    """Import `records`; give each group the split named for its prompt in `splits`, else `default_split`."""
    path = write_jsonl(ws.root / "data.jsonl", records)
    report = import_file(ws, path)
    assert report.committed and not report.rejects, report.rejects
    with ws.session() as s:
        if default_split:
            s.execute(update(PromptGroup).values(split=default_split))
        for prompt, split in (splits or {}).items():
            s.execute(update(PromptGroup).where(PromptGroup.prompt == prompt).values(split=split))
    return ws


def set_checks(ws: Workspace, checks: dict) -> Workspace:
    """Write `checks:` into expertune.yaml and return a fresh Workspace (settings are cached)."""
    path = ws.root / SETTINGS_FILE
    data = yaml.safe_load(path.read_text()) or {}
    data["checks"] = checks
    path.write_text(yaml.safe_dump(data))
    return Workspace(ws.root)


def set_settings(ws: Workspace, **values) -> Workspace:
    path = ws.root / SETTINGS_FILE
    data = yaml.safe_load(path.read_text()) or {}
    data.update(values)
    path.write_text(yaml.safe_dump(data))
    return Workspace(ws.root)


def response_id(ws: Workspace, text_start: str) -> int:
    with ws.session() as s:
        return s.scalar(select(Response.id).where(Response.text.startswith(text_start)))


def group_id(ws: Workspace, prompt: str) -> int:
    with ws.session() as s:
        return s.scalar(select(PromptGroup.id).where(PromptGroup.prompt == prompt))


def words(n: int, seed: int) -> str:
    """n distinct-ish words: a deterministic pseudo-random sentence."""
    import random

    vocab = ("contract offer acceptance consideration party breach damages term clause remedy court promise "
             "estoppel misrepresentation frustration performance condition warranty tender notice agent buyer "
             "seller goods price delivery payment risk title property lease tenant landlord loan guarantee "
             "liability negligence duty standard reasonable foreseeable loss profit interest").split()
    rnd = random.Random(seed)
    return " ".join(rnd.choice(vocab) for _ in range(n))


def findings(report, check: str, kind: str | None = None):
    out = [f for f in report.findings if f.check == check]
    return [f for f in out if kind is None or f.data.get("kind") == kind]
