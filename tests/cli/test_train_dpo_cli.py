"""`expertune train dpo` as a user runs it: a workspace with accepted and rejected answers, an SFT
adapter registered as `demo`, one DPO step; the command prints the held-out margin with its interval
and registers `dpo@1`, and says what to do when there is no adapter to start from."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from adapter_helpers import BUILTIN, make_adapter
from conftest import chat_record, write_jsonl

pytestmark = pytest.mark.integration


def expertune(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "expertune", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def test_train_dpo_from_a_registered_adapter_prints_the_margin_and_registers(tmp_path):
    from expertune.llm.local import base_identity
    from expertune.records import AdapterMetrics, RunLineage, SystemPromptPolicy
    from expertune.train.registry import register
    from expertune.workspace import Workspace

    rows = []
    for g in range(8):
        question = f"Is promise number {g} binding without consideration?"
        rows += [chat_record(question, f"Usually not: a bare promise {g} needs consideration or a deed (Re Casey's Patents)."),
                 chat_record(question, f"Yes, every promise {g} binds.", status="rejected")]
    data = write_jsonl(tmp_path / "prefs.jsonl", rows)
    ws_root = tmp_path / "ws"
    assert expertune("init", ws_root).returncode == 0
    assert expertune("-w", ws_root, "import", data).returncode == 0
    assert expertune("-w", ws_root, "split", "--val", "0.25", "--test", "0.25").returncode == 0

    _, sha = base_identity(BUILTIN)
    register(Workspace(ws_root), RunLineage(run_id="sft-1", adapter_name="demo", method="lora", recipe={}, base_model=BUILTIN,
                                            base_sha256=sha, dataset_hash="d", system_prompt_policy=SystemPromptPolicy(),
                                            metrics=AdapterMetrics()),
             make_adapter(tmp_path / "demo", name="demo"))

    missing = expertune("-w", ws_root, "train", "dpo")
    assert missing.returncode == 2 and "--from NAME@current" in missing.stderr and "Traceback" not in missing.stderr

    done = expertune("-w", ws_root, "train", "dpo", "--from", "demo@current", "--set", "max_steps=1",
                     "--set", "per_device_batch_size=2", "--set", "max_length=128")
    assert done.returncode == 0, done.stderr
    assert "held-out margin (log P preferred − log P other)" in done.stdout and "registered adapter dpo@1" in done.stdout

    listed = json.loads(expertune("-w", ws_root, "adapters", "list", "--json").stdout)
    assert {(a["name"], a["version"]) for a in listed} == {("demo", 1), ("dpo", 1)}
