"""Training examples from a dataset version: prompt-completion records, loss on the answer only.

Examples keep the conversation as stored; the recipe's system-prompt policy is applied when they
are rendered into tokens (llm/render.py), the same way evaluation and serving apply it."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from expertune.data.versions import version_split_path
from expertune.train.recipe import Recipe


def read_split(version: dict[str, Any], split: str) -> list[dict[str, Any]]:
    path = version_split_path(version, split)
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def cap_groups(rows: list[dict[str, Any]], cap: int | None, seed: int) -> list[dict[str, Any]]:
    """Keep at most `cap` responses per prompt group, chosen by a seeded shuffle (preferred first)."""
    if cap is None:
        return rows
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_group[row["group_id"]].append(row)
    rnd = random.Random(seed)
    kept: list[dict[str, Any]] = []
    for members in by_group.values():
        rnd.shuffle(members)
        members.sort(key=lambda r: (not r.get("preferred"), -(r.get("rating") or 0)))
        kept.extend(members[:cap])
    return kept


def to_examples(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Conversational prompt-completion examples: the prompt is masked and the completion trained,
    whose chat-template rendering ends with the end-of-turn (EOS) token."""
    return [
        {
            "prompt": r["prompt"],
            "completion": r["completion"],
            "group_id": r["group_id"],
            "response_id": r["response_id"],
        }
        for r in rows
    ]


def group_weights(examples: list[dict[str, Any]]) -> list[float]:
    """Sampling weight per example so each prompt group is drawn equally often."""
    sizes = Counter(e["group_id"] for e in examples)
    return [1.0 / sizes[e["group_id"]] for e in examples]


def load_examples(version: dict[str, Any], recipe: Recipe) -> dict[str, list[dict[str, Any]]]:
    train = cap_groups(read_split(version, "train"), recipe.group_cap, recipe.seed)
    return {"train": to_examples(train), "val": to_examples(read_split(version, "val"))}


def write_examples(examples: dict[str, list[dict[str, Any]]], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in examples.items():
        with (folder / f"{split}.jsonl").open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
