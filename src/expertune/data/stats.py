"""Dataset statistics: groups, responses, responses per prompt, topics, splits, lengths."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any

from expertune.store.readonly import select_rows
from expertune.workspace import Workspace

# Plain SQL, read without SQLAlchemy on a SQLite store (store/readonly.py): what the ORM would
# send for the same selects, so rows come back in the same order (the JSON's "responses" keeps
# the order statuses first appear in). tests/store/test_readonly.py checks the names and the rows.
GROUPS_SQL = ("SELECT prompt_groups.id, prompt_groups.split, topics.name, prompt_groups.kind, length(prompt_groups.prompt) "
              "FROM prompt_groups LEFT OUTER JOIN topics ON topics.id = prompt_groups.topic_id")
RESPONSES_SQL = "SELECT responses.group_id, responses.status, length(responses.text) FROM responses"


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
    groups, responses = select_rows(ws, GROUPS_SQL, RESPONSES_SQL)

    # id -> (split, topic name)
    group_place = {gid: (split or "unassigned", topic or "(none)") for gid, split, topic, _kind, _chars in groups}
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
        split, topic = group_place[gid]
        by_topic[topic]["responses"] += 1
        by_split[split]["responses"] += 1
    for split, topic in group_place.values():
        by_topic[topic]["groups"] += 1
        by_split[split]["groups"] += 1

    rpp = Counter(per_group.get(gid, 0) for gid in group_place)
    return {
        "groups": len(groups),
        "responses": dict(status_counts),
        "accepted": status_counts.get("accepted", 0),
        "mcq_groups": sum(1 for _gid, _split, _topic, kind, _chars in groups if kind == "mcq"),
        "responses_per_prompt": {str(k): rpp[k] for k in sorted(rpp)},
        "topics": {t: dict(c) for t, c in sorted(by_topic.items())},
        "splits": {s: dict(c) for s, c in sorted(by_split.items())},
        "response_chars": _percentiles(lengths),
        "prompt_chars": _percentiles([chars for *_, chars in groups]),
    }
