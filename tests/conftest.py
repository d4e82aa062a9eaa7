import json
from pathlib import Path

import pytest

from expertune.data.ingest import import_file
from expertune.data.splits import assign_splits
from expertune.workspace import Workspace

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace.init(tmp_path / "ws")


def chat_record(prompt: str, answer: str, *, system: str | None = None, context=(), **extra) -> dict:
    messages = ([{"role": "system", "content": system}] if system else []) + list(context)
    messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    return {"messages": messages, **extra}


def write_jsonl(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


def synthetic_groups(n_groups: int, per_group: int = 2, *, start: int = 0, topics=("alpha", "beta", "gamma")):
    for g in range(start, start + n_groups):
        for k in range(per_group):
            yield chat_record(f"Question number {g}: explain item {g}.", f"Answer {k} to question {g}.",
                              system="Be brief.", topic=topics[g % len(topics)])


# --- a tiny training set (tests/train) ---
FACTS = [
    ("What is an offer?", ["An offer is a definite promise to be bound on stated terms.", "A proposal showing willingness to be bound if accepted."]),
    ("What is acceptance?", ["Acceptance is unqualified assent to the terms of an offer.", "Agreeing to all the offer's terms, communicated to the offeror."]),
    ("What is consideration?", ["Consideration is something of value given in exchange for a promise.", "The price paid for a promise: a benefit or a detriment."]),
    ("What is a warranty?", ["A warranty is a minor term; its breach gives damages only.", "A less important term whose breach allows a claim for damages."]),
    ("What is frustration?", ["Frustration ends a contract when performance becomes impossible without fault.", "A later event that makes performance radically different discharges the contract."]),
    ("What is misrepresentation?", ["A false statement of fact that induces a contract.", "An untrue statement of fact that led the other party to contract."]),
    ("What are damages?", ["Money awarded to put the claimant where performance would have.", "Compensation for loss caused by the breach of contract."]),
    ("What is estoppel?", ["Promissory estoppel stops a promisor going back on a relied-on promise.", "A rule preventing retreat from a promise the other side relied on."]),
]


def tiny_records():
    for q, answers in FACTS:
        for a in answers:
            yield chat_record(q, a, system="Answer in one sentence.", topic="Contracts")


@pytest.fixture
def tiny_ws(ws, tmp_path):
    """Eight prompt groups with two short answers each; 6 train groups, 2 validation groups."""
    import_file(ws, write_jsonl(tmp_path / "tiny.jsonl", tiny_records()))
    assign_splits(ws, val=0.25, test=0.0, seed=1)
    return ws


QUICK = ["max_steps=6", "eval_steps=2", "max_length=128", "per_device_batch_size=2", "learning_rate=2e-3",
         "early_stopping_patience=null"]
