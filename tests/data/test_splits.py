import pytest
from sqlalchemy import select

from conftest import synthetic_groups, write_jsonl
from expertune.data.export import iter_rows
from expertune.data.ingest import import_file
from expertune.data.splits import assign_splits
from expertune.store.tables import PromptGroup


def _splits(ws) -> dict[str, str]:
    with ws.session() as s:
        return dict(s.execute(select(PromptGroup.key, PromptGroup.split)).all())


@pytest.mark.parametrize("stratify", [None, "topic"])
def test_splits_stable_when_20_percent_more_groups_are_added(ws, tmp_path, stratify):
    import_file(ws, write_jsonl(tmp_path / "a.jsonl", synthetic_groups(100, 3)))
    assign_splits(ws, val=0.1, test=0.1, seed=7, stratify=stratify)
    before = _splits(ws)
    import_file(ws, write_jsonl(tmp_path / "b.jsonl", synthetic_groups(20, 3, start=100)))
    report = assign_splits(ws, val=0.1, test=0.1, seed=7, stratify=stratify)
    after = _splits(ws)
    assert report.assigned == 20 and report.kept == 100
    assert {k: after[k] for k in before} == before
    assert set(after.values()) == {"train", "val", "test"}
    # No response of a val/test group is trained on: group ids (and texts) are disjoint by split.
    with ws.session() as s:
        rows = list(iter_rows(s, "all"))
    train_groups = {r.group_key for r in rows if r.split == "train"}
    held_groups = {r.group_key for r in rows if r.split != "train"}
    assert train_groups and held_groups and not (train_groups & held_groups)
    assert not ({r.text for r in rows if r.split == "train"} & {r.text for r in rows if r.split != "train"})


def test_split_is_a_pure_function_of_key_and_seed(tmp_path):
    from expertune.workspace import Workspace

    results = []
    for name in ("one", "two"):
        w = Workspace.init(tmp_path / name)
        import_file(w, write_jsonl(tmp_path / f"{name}.jsonl", synthetic_groups(50, 1)))
        assign_splits(w, val=0.2, test=0.2, seed=3)
        results.append(_splits(w))
    assert results[0] == results[1]


def test_stratified_split_gives_each_topic_held_out_groups(ws, tmp_path):
    import_file(ws, write_jsonl(tmp_path / "a.jsonl", synthetic_groups(30, 1)))
    assign_splits(ws, val=0.1, test=0.1, stratify="topic")
    with ws.session() as s:
        rows = s.execute(select(PromptGroup.topic_id, PromptGroup.split)).all()
    for topic in {t for t, _ in rows}:
        assert {"train", "val", "test"} == {sp for t, sp in rows if t == topic}
