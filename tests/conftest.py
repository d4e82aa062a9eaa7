import json
from pathlib import Path

import pytest

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
