import pytest
from run_helpers import sft_run

from expertune.errors import InputError, NotFound
from expertune.llm.adapters import AdapterInfo
from expertune.store import adapters as registry


def _register(ws, tmp_path, n, *, weights: bool = False):
    old = sft_run()
    run = old.updated(id=f"run{n}", base_model={**old.base_model.model_dump(), "sha256": "x"},
                      dataset_version={"id": 1, "hash": "h" * 64}, best_step=n)
    folder = tmp_path / f"a{n}"
    folder.mkdir()
    if weights:  # what read_adapter needs of a LoRA folder; the bytes only feed the hash
        (folder / "adapter_config.json").write_text('{"base_model_name_or_path": "elsewhere"}')
        (folder / "adapter_model.safetensors").write_bytes(b"weights %d" % n)
    return registry.register_adapter(ws, run, folder)


def test_promote_and_rollback_move_current_and_delete_nothing(ws, tmp_path):
    for n in (1, 2, 3):
        _register(ws, tmp_path, n)
    current = lambda: [a.ref for a in registry.list_adapters(ws) if a.is_current]
    assert current() == ["legal@3"]  # registering promotes by default
    registry.promote(ws, "legal@1")
    assert current() == ["legal@1"]
    assert registry.rollback(ws, "legal").ref == "legal@3"
    assert current() == ["legal@3"]
    assert registry.rollback(ws, "legal").ref == "legal@2"
    assert len(registry.list_adapters(ws)) == 3 and all((tmp_path / f"a{n}").is_dir() for n in (1, 2, 3))
    assert registry.find_adapter(ws, "legal@current").version == 2
    assert registry.find_adapter(ws, "legal@1").path.endswith("a1")


def test_rollback_without_history_is_a_clear_error(ws, tmp_path):
    _register(ws, tmp_path, 1)
    with pytest.raises(InputError, match="nothing to roll back"):
        registry.rollback(ws, "legal")


def test_unknown_reference_names_the_registered_ones(ws, tmp_path):
    _register(ws, tmp_path, 1)
    with pytest.raises(NotFound, match=r"'legal@7' not found \(registered: legal@1\)"):
        registry.find_adapter(ws, "legal@7")
    with pytest.raises(InputError, match="expected NAME"):
        registry.find_adapter(ws, "legal@v2")


def test_resolve_adapter_overlays_the_registry_lineage_on_the_folder(ws, tmp_path):
    _register(ws, tmp_path, 1, weights=True)
    row = _register(ws, tmp_path, 2, weights=True)
    info = registry.resolve_adapter(ws, "legal")
    assert isinstance(info, AdapterInfo)
    assert (info.name, info.version, info.registry_id, info.kind) == ("legal", 2, row.id, "lora")
    assert info.base_model == "builtin:smollm2-135m-instruct" and info.run_id == "run2"  # the registry's, not the folder's
    assert info.recipe["system_prompt"] == "drop"
    # No marker in the folder: the policy comes from the registered recipe.
    assert info.system_prompt_policy.model_dump() == {"mode": "drop", "text": None}
    assert registry.resolve_adapter(ws, "legal@1").sha256 != info.sha256
