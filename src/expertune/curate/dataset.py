"""The data the checks look at: accepted responses of the store, or the rows of a dataset version.

Rows are read with column selects (no ORM objects) into small slotted records, so 100,000
responses load in about a second. Derived word tables are built once and shared by the checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import select

from expertune.curate.findings import Ref
from expertune.curate.text import WordTable, normalise
from expertune.data.splits import SPLITS
from expertune.data.versions import get_version, version_split_path
from expertune.errors import InputError
from expertune.store.tables import PromptGroup, Response, Topic
from expertune.workspace import Workspace


@dataclass(slots=True)
class Group:
    id: int
    key: str
    system: str | None
    context: list[dict[str, Any]]
    prompt: str
    topic: str | None
    split: str | None
    kind: str

    def messages(self) -> list[dict[str, str]]:
        head = [{"role": "system", "content": self.system}] if self.system else []
        return [*head, *self.context, {"role": "user", "content": self.prompt}]

    def user_text(self) -> str:
        """Earlier turns and the final prompt: what identifies the question (see leakage)."""
        return "\n".join([*(t.get("content") or "" for t in self.context), self.prompt])

    def locate(self, offset: int) -> tuple[str, int]:
        """Field ("context.N" or "prompt") and offset within it of a character of `user_text()`."""
        start = 0
        for n, turn in enumerate(self.context):
            end = start + len(turn.get("content") or "")
            if offset < end:
                return f"context.{n}", offset - start
            start = end + 1
        return "prompt", offset - start

    def full_text(self) -> str:
        return "\n".join([self.system or "", self.user_text()])


@dataclass(slots=True)
class Item:
    """One response; `group` indexes CurationData.groups."""

    id: int
    group: int
    text: str
    author: str | None = None
    author_kind: str = "human"


class CurationData:
    def __init__(self, groups: list[Group], items: list[Item], source: dict[str, Any]):
        self.groups = groups
        self.items = items
        self.source = source
        self.group_index = {g.id: i for i, g in enumerate(groups)}

    # -- references ---------------------------------------------------------------------------
    def ref(self, i: int) -> Ref:
        it = self.items[i]
        g = self.groups[it.group]
        return Ref(group_id=g.id, response_id=it.id, split=g.split)

    def gref(self, gi: int) -> Ref:
        g = self.groups[gi]
        return Ref(group_id=g.id, split=g.split)

    def response_text(self, response_id: int) -> str | None:
        i = self.item_index.get(response_id)
        return self.items[i].text if i is not None else None

    @cached_property
    def item_index(self) -> dict[int, int]:
        return {it.id: i for i, it in enumerate(self.items)}

    @property
    def has_splits(self) -> bool:
        return any(g.split for g in self.groups)

    # -- shared derived data ------------------------------------------------------------------
    @cached_property
    def response_words(self) -> WordTable:
        return WordTable([it.text for it in self.items])

    @cached_property
    def prompt_words(self) -> WordTable:
        return WordTable([g.user_text() for g in self.groups])

    @cached_property
    def response_norm(self) -> list[str]:
        return self.response_words.norms

    @cached_property
    def user_norm(self) -> list[str]:
        """Normalised earlier turns + prompt of each group (the texts of `prompt_words`)."""
        return self.prompt_words.norms

    @cached_property
    def prompt_norm(self) -> list[str]:
        """Normalised system + earlier turns + prompt of each group."""
        return [normalise(g.full_text()) for g in self.groups]


def load_data(ws: Workspace, dataset_version: str | None = None) -> CurationData:
    data = _from_version(ws, dataset_version) if dataset_version else _from_store(ws)
    if not data.items:
        where = f"dataset version {dataset_version}" if dataset_version else "the store"
        raise InputError(f"nothing to check: {where} has no accepted responses; run `expertune import` first")
    return data


def _from_store(ws: Workspace) -> CurationData:
    with ws.session() as session:
        group_rows = session.execute(
            select(PromptGroup.id, PromptGroup.key, PromptGroup.system, PromptGroup.context, PromptGroup.prompt,
                   Topic.name, PromptGroup.split, PromptGroup.kind)
            .outerjoin(Topic, Topic.id == PromptGroup.topic_id)
            .where(PromptGroup.id.in_(select(Response.group_id).where(Response.status == "accepted")))
            .order_by(PromptGroup.id)
        ).all()
        item_rows = session.execute(
            select(Response.id, Response.group_id, Response.text, Response.author, Response.author_kind)
            .where(Response.status == "accepted")
            .order_by(Response.group_id, Response.id)
        ).all()
    groups = [Group(r[0], r[1], r[2], list(r[3] or []), r[4], r[5], r[6], r[7]) for r in group_rows]
    index = {g.id: i for i, g in enumerate(groups)}
    items = [Item(r[0], index[r[1]], r[2], r[3], r[4] or "human") for r in item_rows]
    return CurationData(groups, items, {"kind": "store", "statuses": ["accepted"]})


def _from_version(ws: Workspace, ref: str) -> CurationData:
    """Rows exactly as the version exported them (later edits in the store do not leak in)."""
    version = get_version(ws, ref)
    with ws.session() as session:
        key_to_id = dict(session.execute(select(PromptGroup.key, PromptGroup.id)).all())
        authors = {r[0]: (r[1], r[2]) for r in session.execute(select(Response.id, Response.author, Response.author_kind))}
    groups: list[Group] = []
    items: list[Item] = []
    index: dict[str, int] = {}
    for split in SPLITS:
        path = version_split_path(version, split)
        if not path.is_file():
            raise InputError(f"dataset version {version['id']}: {path} is missing; the version's export folder was moved or deleted")
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            gkey = row["group_id"]
            if gkey not in index:
                index[gkey] = len(groups)
                groups.append(_group_from_messages(key_to_id.get(gkey, -len(groups) - 1), gkey, row, split, path, line_no))
            author, kind = authors.get(row["response_id"], (None, "human"))
            items.append(Item(row["response_id"], index[gkey], row["completion"][0]["content"], author, kind or "human"))
    return CurationData(groups, items, {"kind": "dataset_version", "id": version["id"], "hash": version["hash"], "name": version["name"]})


def _group_from_messages(gid: int, key: str, row: dict, split: str, path: Path, line_no: int) -> Group:
    messages = list(row["prompt"])
    system = messages.pop(0)["content"] if messages and messages[0]["role"] == "system" else None
    if not messages or messages[-1]["role"] != "user":
        raise InputError(f"{path}:{line_no}: the prompt does not end with a user turn")
    prompt = messages.pop()["content"]
    return Group(gid, key, system, messages, prompt, row.get("topic"), split, "chat")
