"""`expertune eval mcq` on the builtin model, base vs a tiny random-init LoRA adapter."""

import json
from pathlib import Path

import pytest

from test_classify_integration import run  # the eval sub-app runner

EXAM = Path(__file__).parents[2] / "fixtures" / "exams" / "exam8.jsonl"


@pytest.fixture(scope="module")
def random_lora(tmp_path_factory) -> Path:
    """A LoRA with random (non-zero) weights: the tuned model really differs from the base."""
    import torch
    from peft import LoraConfig, get_peft_model

    from expertune.models import load_model, load_tokenizer, resolve

    torch.manual_seed(0)
    resolved = resolve("builtin:smollm2-135m-instruct")
    folder = tmp_path_factory.mktemp("lora")
    model = get_peft_model(load_model(resolved), LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    model.save_pretrained(folder)
    load_tokenizer(resolved).save_pretrained(folder)
    return folder


@pytest.mark.integration
def test_eval_mcq_base_vs_adapter(ws, random_lora):
    out = run("-w", ws.root, "eval", "mcq", EXAM, "--adapter-path", random_lora, "--model", "builtin:smollm2-135m-instruct",
              "--formats", "zero-answer-json", "--scoring", "both", "--limit", 2, "--max-new-tokens", 12, "--json")
    assert set(out["models"]) == {"base", "tuned"} and out["models"]["base"]["info"]["model_id"] != out["models"]["tuned"]["info"]["model_id"]
    for label in ("base", "tuned"):
        s = out["models"][label]["summary"]
        assert set(s) == {"zero-answer-json", "logprob"}
        assert s["zero-answer-json"]["accuracy"]["n"] == 2 and 0 <= s["zero-answer-json"]["adherence"]["value"] <= 1
        assert s["zero-answer-json"]["logprob_agreement"]["n"] == 2
    assert out["baseline"] == "base" and set(out["comparisons"]["tuned"]) == {"zero-answer-json", "logprob"}
    assert out["comparisons"]["tuned"]["logprob"]["mcnemar"]["n_items"] == 2
    stored = json.loads(Path(out["path"]).read_text())
    records = stored["models"]["tuned"]["records"]
    assert len(records) == 2 and all({"raw", "letter", "adherent"} <= set(r) for r in records)
    lp = stored["models"]["base"]["logprob_records"]
    assert all(set(r["logprobs"]) == set("ABCD") and r["letter"] in "ABCD" for r in lp)
    from expertune.evaluate.tasks.standalone import report_sections

    sections = report_sections(Path(out["path"]).parent)
    assert len(sections) == 1 and "Multiple-choice exam" in sections[0]


@pytest.mark.integration
def test_eval_perplexity_on_builtin_base_and_adapter(ws, random_lora, tmp_path):
    pytest.importorskip("expertune.llm.scoring")
    from conftest import synthetic_groups, write_jsonl
    from expertune.data.ingest import import_file
    from expertune.data.splits import assign_splits

    import_file(ws, write_jsonl(tmp_path / "d.jsonl", synthetic_groups(6, per_group=2)))
    assign_splits(ws, val=0.3, test=0.3)
    ood = write_jsonl(tmp_path / "ood.jsonl", [{"prompt": "Name a colour.", "response": "Blue."}])
    out = run("-w", ws.root, "eval", "perplexity", "--adapter-path", random_lora, "--model", "builtin:smollm2-135m-instruct",
              "--ood", ood, "--json")
    held = out["sets"]["heldout"]
    base, tuned = held["models"]["base"], held["models"]["tuned"]
    assert base["nll_per_token"] > 0 and tuned["n_groups"] == base["n_groups"] > 0
    assert held["differences"]["tuned"]["n_groups"] == base["n_groups"]
    assert out["sets"]["ood:ood"]["models"]["base"]["n_examples"] == 1


@pytest.mark.integration
def test_registered_adapter_by_name_and_base_mismatch(ws, random_lora, tmp_path):
    import shutil

    from expertune.errors import ConfigError
    from expertune.llm.local import base_identity
    from expertune.records import AdapterMetrics, RunLineage, SystemPromptPolicy
    from expertune.train.registry import register

    folder = tmp_path / "demo"
    shutil.copytree(random_lora, folder)
    _, sha = base_identity("builtin:smollm2-135m-instruct")
    run_record = RunLineage(run_id="run-1", adapter_name="demo", method="lora", recipe={}, base_model="builtin:smollm2-135m-instruct",
                            base_sha256=sha, dataset_hash="d", system_prompt_policy=SystemPromptPolicy(mode="as-data"),
                            metrics=AdapterMetrics())
    register(ws, run_record, folder)
    out = run("-w", ws.root, "eval", "mcq", EXAM, "--adapter", "demo", "--tuned-only", "--scoring", "logprob",
              "--formats", "zero-answer-json", "--limit", 2, "--json")
    assert set(out["models"]) == {"tuned"} and out["models"]["tuned"]["info"]["adapter_label"] == "demo@1"
    assert out["models"]["tuned"]["summary"]["logprob"]["accuracy"]["n"] == 2 and out["comparisons"] == {}

    other = tmp_path / "other"
    shutil.copytree(random_lora, other)
    register(ws, run_record.updated(adapter_name="other", base_sha256="0" * 64), other)
    from typer.testing import CliRunner

    from test_classify_integration import cli

    result = CliRunner().invoke(cli(), ["-w", str(ws.root), "eval", "mcq", str(EXAM), "--adapter", "other", "--limit", "1"])
    assert isinstance(result.exception, ConfigError) and "trained on a base with sha256 000000000000" in str(result.exception)


@pytest.mark.integration
def test_eval_forgetting_cli_on_an_exam(ws, random_lora):
    out = run("-w", ws.root, "eval", "forgetting", EXAM, "--adapter-path", random_lora,
              "--model", "builtin:smollm2-135m-instruct", "--margin-accuracy", 0.5, "--json")
    v = out["verdicts"]["tuned"]
    assert out["set_kind"] == "mcq" and v["metric"] == "accuracy" and v["scoring"] == "logprob"
    assert out["flagged"] == (v["base"] - v["tuned"] > 0.5) and v["mcnemar"]["n_items"] == 8
    assert Path(out["path"]).name == "forgetting-exam8.json"
