"""Dataset statistics: groups, responses, responses per prompt, topics, splits, lengths."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import func, select

from expertune.store.tables import PromptGroup, Response, Topic
from expertune.workspace import Workspace


def _percentiles(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    # numpy's default (linear) percentiles, from the standard library: `expertune stats` starts
    # without importing numpy (tests/cli/test_startup_imports.py).
    cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else [float(values[0])] * 99
    return {
        "min": int(min(values)),
        "p50": float(cuts[49]),
        "p90": float(cuts[89]),
        "p99": float(cuts[98]),
        "max": int(max(values)),
        "mean": round(float(statistics.fmean(values)), 1),
    }


def dataset_stats(ws: Workspace) -> dict[str, Any]:
    with ws.session(readonly=True) as session:
        groups = session.execute(
            select(PromptGroup.id, PromptGroup.split, Topic.name, PromptGroup.kind, func.length(PromptGroup.prompt))
            .outerjoin(Topic, Topic.id == PromptGroup.topic_id)
        ).all()
        responses = session.execute(select(Response.group_id, Response.status, func.length(Response.text))).all()

    group_info = {g.id: g for g in groups}
    per_group: Counter[int] = Counter()
    status_counts: Counter[str] = Counter()
    lengths: list[int] = []
    by_topic: dict[str, Counter] = defaultdict(Counter)
    by_split: dict[str, Counter] = defaultdict(Counter)
    for gid, status, length in responses:
        status_counts[status] += 1
        if status != "accepted":
            continue
        per_group[gid] += 1
        lengths.append(length)
        g = group_info[gid]
        by_topic[g.name or "(none)"]["responses"] += 1
        by_split[g.split or "unassigned"]["responses"] += 1
    for g in groups:
        by_topic[g.name or "(none)"]["groups"] += 1
        by_split[g.split or "unassigned"]["groups"] += 1

    rpp = Counter(per_group.get(g.id, 0) for g in groups)
    return {
        "groups": len(groups),
        "responses": dict(status_counts),
        "accepted": status_counts.get("accepted", 0),
        "mcq_groups": sum(1 for g in groups if g.kind == "mcq"),
        "responses_per_prompt": {str(k): rpp[k] for k in sorted(rpp)},
        "topics": {t: dict(c) for t, c in sorted(by_topic.items())},
        "splits": {s: dict(c) for s, c in sorted(by_split.items())},
        "response_chars": _percentiles(lengths),
        "prompt_chars": _percentiles([g[4] for g in groups]),
    }
