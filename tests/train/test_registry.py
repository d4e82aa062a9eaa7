import pytest

from expertune.errors import InputError
from expertune.train import registry


def _register(ws, tmp_path, n):
    run = {"id": f"run{n}", "recipe": {"adapter_name": "legal", "method": "lora"},
           "base_model": {"name": "builtin:smollm2-135m-instruct", "sha256": "x"},
           "dataset_version": {"hash": "h" * 64}, "best_step": n}
    folder = tmp_path / f"a{n}"
    folder.mkdir()
    return registry.register(ws, run, folder)


def test_promote_and_rollback_move_current_and_delete_nothing(ws, tmp_path):
    for n in (1, 2, 3):
        _register(ws, tmp_path, n)
    current = lambda: [a["ref"] for a in registry.list_adapters(ws) if a["is_current"]]
    assert current() == ["legal@3"]  # registering promotes by default
    registry.promote(ws, "legal@1")
    assert current() == ["legal@1"]
    assert registry.rollback(ws, "legal")["ref"] == "legal@3"
    assert current() == ["legal@3"]
    assert registry.rollback(ws, "legal")["ref"] == "legal@2"
    assert len(registry.list_adapters(ws)) == 3 and all((tmp_path / f"a{n}").is_dir() for n in (1, 2, 3))
    assert registry.resolve_adapter(ws, "legal@current")["version"] == 2
    assert registry.resolve_adapter(ws, "legal@1")["path"].endswith("a1")


def test_rollback_without_history_is_a_clear_error(ws, tmp_path):
    _register(ws, tmp_path, 1)
    with pytest.raises(InputError, match="nothing to roll back"):
        registry.rollback(ws, "legal")


def test_marker_file_records_lineage(ws, tmp_path):
    a = _register(ws, tmp_path, 1)
    import json

    marker = json.loads((tmp_path / "a1" / registry.MARKER).read_text())
    assert marker["base_model"] == "builtin:smollm2-135m-instruct" and marker["version"] == a["version"] == 1
