"""Real chat histories as authoring sessions: `expertune author import FILE`.

The reference study authored its data by hand in chat UIs; this brings those chats in. The
parsing (ChatGPT, Claude and Open WebUI exports, branches kept, speaker labels and UI residue
stripped and reported) is author.exports.parse_chat_export; here every parsed conversation
becomes a session whose turns keep the export's tree, with the branch the UI was showing as the
head. The expert then accepts or rejects the assistant turns as in any session.

Every conversation is imported, reported as already imported (same source and conversation id;
re-importing is a no-op), or reported with the parser's `file: json.path: reason`; nothing is
dropped silently. One transaction per file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from expertune.author.sessions import add_turn, default_author
from expertune.store.author_models import AuthorSession
from expertune.workspace import Workspace


def import_chat_export(ws: Workspace, path: Path, *, fmt: str = "auto", topic: str | None = None,
                       author: str | None = None) -> dict[str, Any]:
    from expertune.author.exports import parse_chat_export

    parsed = parse_chat_export(path, fmt)
    report: dict[str, Any] = {"file": str(path), "format": parsed.format, "conversations": len(parsed.conversations),
                              "sessions": 0, "turns": 0, "skipped": 0, "session_ids": [],
                              "problems": [str(p) for p in parsed.problems]}
    with ws.session() as db:
        for conv in parsed.conversations:
            ref = f"{conv.source}:{conv.source_id}"
            if db.scalar(select(AuthorSession.id).where(AuthorSession.source_ref == ref)) is not None:
                report["skipped"] += 1
                continue
            sess = AuthorSession(title=conv.title, topic=topic, system=None,
                                 backend={"type": "imported", "model": _models(conv)}, params={},
                                 author=author or default_author(), source=conv.source, source_ref=ref)
            if conv.created_at is not None:
                sess.created_at = conv.created_at
            db.add(sess)
            db.flush()
            ids: dict[str, int] = {}
            for turn in _parents_first(conv.turns):
                new = add_turn(db, sess, parent_id=ids.get(turn.parent_id) if turn.parent_id else None, role=turn.role,
                               text=turn.content, origin="imported", model=turn.model,
                               draft_text=turn.content if turn.role == "assistant" else None,
                               meta={"source_turn": turn.id, "file": str(path), "locator": conv.locator})
                if turn.created_at is not None:
                    new.created_at = turn.created_at
                ids[turn.id] = new.id
            leaf = conv.current_leaf if conv.current_leaf in ids else conv.turns[-1].id
            sess.head_id = ids[leaf]
            report["sessions"] += 1
            report["turns"] += len(ids)
            report["session_ids"].append(sess.id)
    return report


def _models(conv) -> str | None:
    models = sorted({t.model for t in conv.turns if t.model})
    return ", ".join(models) if models else None


def _parents_first(turns: list) -> list:
    """Turns ordered so every parent precedes its children (exports list them in any order)."""
    known = {t.id for t in turns}
    done: set[str] = set()
    out, pending = [], list(turns)
    while pending:
        rest = [t for t in pending if t.parent_id in known and t.parent_id not in done]
        ready = [t for t in pending if t not in rest]
        if not ready:  # a cycle the parser let through: keep the turns as roots rather than lose them
            ready, rest = rest, []
        for t in ready:
            out.append(t)
            done.add(t.id)
        pending = rest
    return out
