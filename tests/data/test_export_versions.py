import json

import pytest

from conftest import chat_record, write_jsonl
from expertune.data.export import export
from expertune.data.ingest import import_file
from expertune.data.splits import assign_splits
from expertune.data.versions import get_version, snapshot
from expertune.errors import InputError


@pytest.fixture
def filled(ws, tmp_path):
    import_file(ws, write_jsonl(tmp_path / "a.jsonl", [
        chat_record("Q1", "good", system="S", meta={"rating": 5}),
        chat_record("Q1", "fine", system="S", meta={"rating": 3}),
        chat_record("Q1", "best", system="S", meta={"rated_better": True}),
        chat_record("Q2", "only"),
    ]))
    assign_splits(ws, val=0.0, test=0.0)
    return ws


def test_export_needs_splits(ws, tmp_path):
    import_file(ws, write_jsonl(tmp_path / "a.jsonl", [chat_record("Q", "A")]))
    with pytest.raises(InputError, match="expertune split"):
        export(ws, "messages", "all", tmp_path / "o.jsonl")


def test_messages_and_prompt_completion_rows(filled, tmp_path):
    out = tmp_path / "m.jsonl"
    assert export(filled, "messages", "train", out)["rows"] == 4
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    q1 = [r for r in rows if r["messages"][1]["content"] == "Q1"]
    assert len(q1) == 3 and len({r["group_id"] for r in q1}) == 1
    assert q1[0]["messages"][0] == {"role": "system", "content": "S"}
    export(filled, "prompt-completion", "all", out)
    row = json.loads(out.read_text().splitlines()[0])
    assert row["prompt"][-1]["role"] == "user" and row["completion"][0]["role"] == "assistant"


def test_dpo_pairs_follow_preference_then_rating(filled, tmp_path):
    out = tmp_path / "d.jsonl"
    export(filled, "dpo", "all", out)
    pairs = {(json.loads(l)["chosen"][0]["content"], json.loads(l)["rejected"][0]["content"]) for l in out.read_text().splitlines()}
    assert pairs == {("best", "good"), ("best", "fine"), ("good", "fine")}


def test_hf_export_loads_back(filled, tmp_path):
    from datasets import load_from_disk

    export(filled, "hf", "all", tmp_path / "hf")
    dd = load_from_disk(str(tmp_path / "hf"))
    assert dd["train"].num_rows == 4 and "completion" in dd["train"].column_names


def test_snapshot_is_content_addressed(filled, tmp_path):
    v1 = snapshot(filled, name="first")
    assert v1["created"] and v1["counts"]["responses"]["train"] == 4
    v2 = snapshot(filled)
    assert not v2["created"] and v2["hash"] == v1["hash"]
    import_file(filled, write_jsonl(tmp_path / "b.jsonl", [chat_record("Q3", "new")]))
    assign_splits(filled, val=0.0, test=0.0)
    v3 = snapshot(filled)
    assert v3["created"] and v3["hash"] != v1["hash"]
    assert get_version(filled, "first")["hash"] == v1["hash"] and get_version(filled)["hash"] == v3["hash"]
