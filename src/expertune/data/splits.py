"""Grouped train/val/test splits.

Whole prompt groups are assigned, never single responses, so no answer to a validation or test
prompt is ever trained on. A group's split is a function of its content key and the seed, and
once assigned it is stored and kept: adding data never moves existing groups.

With `stratify="topic"`, unassigned groups of each topic are visited in hash order and each goes
to the split furthest below its target share within that topic, so small topics still get
val/test groups; the result is deterministic and earlier assignments are likewise kept.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select, update

from expertune.errors import InputError
from expertune.store.tables import PromptGroup
from expertune.workspace import Workspace

SPLITS = ("train", "val", "test")

# Training chose its checkpoint on the val split, so numbers measured there are optimistic: they are
# reported apart under this label, never as held-out results.
CHECKPOINT_SELECTION = "used for checkpoint selection"


def unit_hash(key: str, seed: int) -> float:
    """A uniform number in [0, 1) fixed by the group key and the seed."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(key: str, *, val: float, test: float, seed: int) -> str:
    u = unit_hash(key, seed)
    if u < test:
        return "test"
    if u < test + val:
        return "val"
    return "train"


def _stratified(keys: list[str], existing: Counter, fractions: dict[str, float], seed: int) -> dict[str, str]:
    counts = Counter(existing)
    out: dict[str, str] = {}
    for key in sorted(keys, key=lambda k: unit_hash(k, seed)):
        n = sum(counts.values()) + 1
        # Ties go to test, then val: a topic's first held-out group matters most.
        best = max(("test", "val", "train"), key=lambda s: (fractions[s] * n - counts[s], s != "train"))
        counts[best] += 1
        out[key] = best
    return out


@dataclass
class SplitReport:
    assigned: int = 0
    kept: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"assigned": self.assigned, "kept": self.kept, "counts": self.counts}


def assign_splits(
    ws: Workspace,
    *,
    val: float | None = None,
    test: float | None = None,
    seed: int | None = None,
    stratify: str | None = None,
    reassign: bool = False,
) -> SplitReport:
    cfg = ws.settings.split
    val = cfg.val if val is None else val
    test = cfg.test if test is None else test
    seed = cfg.seed if seed is None else seed
    stratify = cfg.stratify if stratify is None else (stratify or None)
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise InputError(f"--val {val} --test {test}: each must be in [0, 1) and together below 1")
    if stratify not in (None, "topic"):
        raise InputError(f"--stratify {stratify!r}: the only supported value is 'topic'")
    fractions = {"train": 1 - val - test, "val": val, "test": test}
    report = SplitReport()
    with ws.session() as session:
        rows = session.execute(select(PromptGroup.id, PromptGroup.key, PromptGroup.topic_id, PromptGroup.split)).all()
        todo = [r for r in rows if reassign or r.split is None]
        kept = [r for r in rows if not (reassign or r.split is None)]
        report.kept = len(kept)
        if stratify == "topic":
            by_topic: dict[int | None, list] = defaultdict(list)
            for r in rows:
                by_topic[r.topic_id].append(r)
            decided: dict[str, str] = {}
            for members in by_topic.values():
                existing = Counter(r.split for r in members if r.split and not reassign)
                pending = [r.key for r in members if reassign or r.split is None]
                decided.update(_stratified(pending, existing, fractions, seed))
        else:
            decided = {r.key: split_of(r.key, val=val, test=test, seed=seed) for r in todo}
        by_split: dict[str, list[int]] = defaultdict(list)
        for r in todo:
            by_split[decided[r.key]].append(r.id)
        for name, ids in by_split.items():
            for start in range(0, len(ids), 900):
                session.execute(update(PromptGroup).where(PromptGroup.id.in_(ids[start : start + 900])).values(split=name))
        report.assigned = len(todo)
        final = Counter(r.split for r in kept) + Counter({name: len(ids) for name, ids in by_split.items()})
        report.counts = {s: final.get(s, 0) for s in SPLITS}
    return report
