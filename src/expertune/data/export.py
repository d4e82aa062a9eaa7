"""Exporting the curated dataset: chat messages, prompt-completion, DPO pairs, HF DatasetDict."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertune.atomic import atomic_open
from expertune.data.splits import SPLITS
from expertune.errors import InputError
from expertune.store.tables import PromptGroup, Response, Topic
from expertune.workspace import Workspace

FORMATS = ("messages", "prompt-completion", "dpo", "hf")
SPLIT_CHOICES = (*SPLITS, "all")


@dataclass
class ExampleRow:
    """One response with its prompt group, as read from the store."""

    group_id: int
    group_key: str
    system: str | None
    context: list[dict[str, str]]
    prompt: str
    topic: str | None
    split: str
    kind: str
    response_id: int
    response_key: str
    response_version: int
    text: str
    status: str
    rating: int | None
    preferred: bool

    def prompt_messages(self) -> list[dict[str, str]]:
        head = [{"role": "system", "content": self.system}] if self.system else []
        return [*head, *self.context, {"role": "user", "content": self.prompt}]

    def ids(self) -> dict[str, Any]:
        return {
            "group_id": self.group_key,
            "response_id": self.response_id,
            "split": self.split,
            "topic": self.topic,
            "rating": self.rating,
            "preferred": self.preferred,
        }

    def as_messages(self) -> dict[str, Any]:
        return {"messages": [*self.prompt_messages(), {"role": "assistant", "content": self.text}], **self.ids()}

    def as_prompt_completion(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt_messages(),
            "completion": [{"role": "assistant", "content": self.text}],
            **self.ids(),
        }


def _split_filter(split: str) -> tuple[str, ...]:
    if split not in SPLIT_CHOICES:
        raise InputError(f"--split {split!r}: expected one of {', '.join(SPLIT_CHOICES)}")
    return SPLITS if split == "all" else (split,)


def require_splits(session: Session) -> None:
    missing = session.scalar(select(func.count()).select_from(PromptGroup).where(PromptGroup.split.is_(None)))
    if missing:
        raise InputError(f"{missing} prompt groups have no split yet; run `expertune split` first")


def iter_rows(session: Session, split: str = "all", statuses: tuple[str, ...] = ("accepted",)) -> Iterator[ExampleRow]:
    """Responses with their groups, ordered by split, group key and response key (a stable order)."""
    splits = _split_filter(split)
    require_splits(session)
    query = (
        select(
            PromptGroup.id, PromptGroup.key, PromptGroup.system, PromptGroup.context, PromptGroup.prompt,
            Topic.name, PromptGroup.split, PromptGroup.kind,
            Response.id, Response.key, Response.version, Response.text, Response.status,
            Response.rating, Response.preferred,
        )
        .join(Response, Response.group_id == PromptGroup.id)
        .outerjoin(Topic, Topic.id == PromptGroup.topic_id)
        .where(PromptGroup.split.in_(splits), Response.status.in_(statuses))
        .order_by(PromptGroup.split, PromptGroup.key, Response.key)
    )
    for row in session.execute(query).yield_per(5000):
        yield ExampleRow(*row)


def dpo_pairs(rows: list[ExampleRow]) -> Iterator[dict[str, Any]]:
    """Preference pairs inside each group: preferred over not preferred, higher rating over lower,
    accepted over rejected. Ties and unrated pairs give no pair."""
    by_group: dict[int, list[ExampleRow]] = defaultdict(list)
    for r in rows:
        by_group[r.group_id].append(r)
    for members in by_group.values():
        for a, b in combinations(members, 2):
            order = _preference(a, b)
            if order:
                chosen, rejected = (a, b) if order > 0 else (b, a)
                yield {
                    "prompt": chosen.prompt_messages(),
                    "chosen": [{"role": "assistant", "content": chosen.text}],
                    "rejected": [{"role": "assistant", "content": rejected.text}],
                    "group_id": chosen.group_key,
                    "chosen_id": chosen.response_id,
                    "rejected_id": rejected.response_id,
                    "split": chosen.split,
                }


def _preference(a: ExampleRow, b: ExampleRow) -> int:
    if (a.status == "rejected") != (b.status == "rejected"):
        return 1 if b.status == "rejected" else -1
    if a.preferred != b.preferred:
        return 1 if a.preferred else -1
    if a.rating is not None and b.rating is not None and a.rating != b.rating:
        return 1 if a.rating > b.rating else -1
    return 0


def write_jsonl(rows: Iterator[dict[str, Any]], path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with atomic_open(path) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False))
            f.write("\n")
            n += 1
    return n


def export(ws: Workspace, fmt: str, split: str, out: Path) -> dict[str, Any]:
    """Write the dataset in `fmt`; returns {"format", "path", "rows"} (rows per split for hf)."""
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    with ws.session(readonly=True) as session:
        if fmt == "messages":
            n = write_jsonl((r.as_messages() for r in iter_rows(session, split)), out)
        elif fmt == "prompt-completion":
            n = write_jsonl((r.as_prompt_completion() for r in iter_rows(session, split)), out)
        elif fmt == "dpo":
            rows = list(iter_rows(session, split, statuses=("accepted", "rejected")))
            n = write_jsonl(dpo_pairs(rows), out)
        else:
            return {"format": fmt, "path": str(out), "rows": _export_hf(session, split, out)}
    return {"format": fmt, "path": str(out), "rows": n}


def _export_hf(session: Session, split: str, out: Path) -> dict[str, int]:
    from datasets import Dataset, DatasetDict

    by_split: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in iter_rows(session, split):
        row = r.as_prompt_completion()
        by_split[r.split].append(row)
    dd = DatasetDict({name: Dataset.from_list(rows) for name, rows in by_split.items()})
    dd.save_to_disk(str(out))
    return {name: len(rows) for name, rows in by_split.items()}
