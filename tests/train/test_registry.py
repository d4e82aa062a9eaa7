import json

from run_helpers import sft_run

from expertune.llm.adapters import ADAPTER_MARKER, read_adapter
from expertune.train import registry


def test_register_writes_the_marker_that_read_adapter_reads(ws, tmp_path):
    run = sft_run(id="run1", dataset_version={"id": 1, "hash": "h" * 64})
    folder = tmp_path / "a1"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    (folder / "adapter_model.safetensors").write_bytes(b"weights")
    a = registry.register(ws, run, folder)
    marker = json.loads((folder / ADAPTER_MARKER).read_text())
    assert marker["base_model"] == "builtin:smollm2-135m-instruct" and marker["version"] == a.version == 1
    info = read_adapter(folder)
    assert (info.name, info.version, info.run_id, info.dataset_hash) == ("legal", 1, "run1", "h" * 64)
    assert info.system_prompt_policy.mode == "drop"
