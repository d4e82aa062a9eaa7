"""Helpers of the store tests: data files, and worker processes (editors and importers hammering
one store) for the concurrency tests.

Each worker returns what it did and every unexpected exception as a formatted traceback; an
ExpertuneError (a clean refusal) is an expected outcome, anything else is a failure.
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path

from expertune.errors import ExpertuneError, StaleEditError


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def chat_rows(tag: str, groups: int, per_group: int = 3):
    """`groups` one-turn prompt groups with `per_group` answers each, texts unique to `tag`."""
    for g in range(groups):
        for k in range(per_group):
            yield {"messages": [{"role": "user", "content": f"{tag} question {g}?"},
                                {"role": "assistant", "content": f"{tag} answer {g}.{k}"}]}


def editor(root: str, response_id: int, name: str, edits: int) -> dict:
    """Append `edits` tokens to one response, each a read-modify-write that retries when refused."""
    from expertune.store import repo
    from expertune.store.tables import Response
    from expertune.workspace import Workspace

    ws = Workspace(Path(root))
    done, refused, errors = [], 0, []
    for i in range(edits):
        token = f"[{name}.{i}]"
        while True:
            try:
                with ws.session() as s:
                    r = s.get(Response, response_id)
                    version, text = r.version, r.text
                with ws.session() as s:
                    repo.edit_response(s, response_id, {"text": f"{text} {token}"}, expected_version=version,
                                       author=name, reason="manual edit")
                done.append(token)
                break
            except StaleEditError:
                refused += 1
            except ExpertuneError as err:  # clean, but not expected here: report it
                errors.append(f"{type(err).__name__}: {err}")
                break
            except Exception:
                errors.append(traceback.format_exc())
                break
    return {"done": done, "refused": refused, "errors": errors}


def importer(root: str, paths: list[str]) -> dict:
    from expertune.data.ingest import import_file
    from expertune.workspace import Workspace

    ws = Workspace(Path(root))
    imported, errors = 0, []
    for path in paths:
        try:
            imported += import_file(ws, Path(path)).imported_responses
        except Exception:
            errors.append(traceback.format_exc())
    return {"imported": imported, "errors": errors}


def fill_store(ws, tmp_path: Path) -> None:
    """A bit of everything: unicode and multi-turn data, splits, edits, a snapshot, eval rows
    with JSON, floats and booleans, a score cache entry."""
    from expertune.data.ingest import import_file
    from expertune.data.splits import assign_splits
    from expertune.data.versions import snapshot
    from expertune.store import repo
    from expertune.store.eval_models import EvalGeneration, EvalRun
    from expertune.store.tables import Response, ScoreCache

    rows = list(chat_rows("plain", 6, 2))
    rows.append({"messages": [{"role": "system", "content": "Sé preciso. 日本語も。"},
                              {"role": "user", "content": "earlier turn"}, {"role": "assistant", "content": "earlier answer"},
                              {"role": "user", "content": "Quote \"this\" and a tab\tplease"},
                              {"role": "assistant", "content": "Ünïcode ✓ — and a\nnewline"}],
                 "topic": "Other", "rating": 4, "preferred": True})
    import_file(ws, write_jsonl(tmp_path / "fill.jsonl", rows))
    assign_splits(ws, val=0.2, test=0.2, seed=3)
    with ws.session() as s:
        rid = min(s.scalars(__import__("sqlalchemy").select(Response.id)))
        repo.edit_response(s, rid, {"text": "edited ✓", "rating": 2}, expected_version=1, author="ana", reason="manual edit")
        s.add(ScoreCache(key="k" * 64, value={"logprob": -1.25, "tokens": [1, 2, 3]}))
        s.add(EvalRun(name="run", config={"temps": [0.5, 0.75], "nested": {"b": None, "a": True}}, config_hash="c" * 64,
                      folder="runs/x"))
        s.add(EvalGeneration(key="g" * 64, model_id="m", candidate="base", prompt_hash="p" * 64,
                             params={"temperature": 0.7}, seed=1, text="gen ✓", finish_reason="stop", seconds=0.125))
    snapshot(ws, name="v1")
