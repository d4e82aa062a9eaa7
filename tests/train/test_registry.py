import json

from expertune.llm.adapters import ADAPTER_MARKER, read_adapter
from expertune.train import registry


def test_register_writes_the_marker_that_read_adapter_reads(ws, tmp_path):
    run = {"id": "run1", "recipe": {"adapter_name": "legal", "method": "lora", "system_prompt": "drop"},
           "base_model": {"name": "builtin:smollm2-135m-instruct", "sha256": "x", "chat_template_source": "model"},
           "dataset_version": {"hash": "h" * 64}}
    folder = tmp_path / "a1"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    (folder / "adapter_model.safetensors").write_bytes(b"weights")
    a = registry.register(ws, run, folder)
    marker = json.loads((folder / ADAPTER_MARKER).read_text())
    assert marker["base_model"] == "builtin:smollm2-135m-instruct" and marker["version"] == a["version"] == 1
    info = read_adapter(folder)
    assert (info.name, info.version, info.run_id, info.dataset_hash) == ("legal", 1, "run1", "h" * 64)
    assert info.system_prompt_policy["mode"] == "drop"
