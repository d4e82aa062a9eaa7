"""Real training on the builtin SmolLM2-135M: a few steps on a tiny fixture."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import QUICK
from transformers import AutoTokenizer

from expertune.llm.scoring import completion_logprobs
from expertune.models import load_model
from expertune.train.audit import AuditFailed
from expertune.train.run import train
from expertune.records import read_run

pytestmark = pytest.mark.integration


def _train_examples(run_dir: Path):
    rows = [json.loads(l) for l in (run_dir / "data" / "train.jsonl").read_text().splitlines()]
    return [(r["prompt"], r["completion"][0]["content"]) for r in rows]


def _mean_nll(model, tok, examples) -> float:
    scores = completion_logprobs(model, tok, examples, batch_size=8)
    return -sum(s["sum_logprob"] for s in scores) / sum(s["n_tokens"] for s in scores)


def test_train_registers_an_adapter_that_learned_and_reloads_with_plain_peft(tiny_ws):
    from peft import PeftModel

    record = train(tiny_ws, "cpu-quick", QUICK, show_progress=False)
    assert record.status == "completed" and record.adapter.ref == "quick@1"
    run_dir = tiny_ws.runs_dir / record.id
    saved = read_run(run_dir)
    assert saved == record
    for key in ("libraries", "log_history", "best_step", "wall_seconds", "trained_tokens", "tokens_per_second",
                "system_prompt_policy"):
        assert getattr(saved, key), key
    assert saved.base_model.sha256 and saved.dataset_version.hash and saved.hardware.cores
    assert any("eval_loss" in h for h in saved.log_history)

    # The audit ran first: only the answer and its end-of-turn token are trained.
    audit = json.loads((run_dir / "audit.json").read_text())
    assert audit["errors"] == [] and audit["eos_not_trained"] == []

    adapter_dir = Path(record.adapter.path)
    assert (adapter_dir / "chat_template.jinja").is_file() and (adapter_dir / "README.md").is_file()
    base = load_model("builtin:smollm2-135m-instruct")
    tok = AutoTokenizer.from_pretrained(str(adapter_dir))  # the chat template saved with the adapter
    examples = _train_examples(run_dir)
    before = _mean_nll(base, tok, examples)
    tuned = PeftModel.from_pretrained(base, str(adapter_dir))  # plain PEFT, no expertune code
    after = _mean_nll(tuned, tok, examples)
    assert after < before - 0.1, (before, after)

    prompt = tok.apply_chat_template([{"role": "user", "content": "What is an offer?"}], add_generation_prompt=True,
                                     return_tensors="pt", return_dict=True)
    out = tuned.generate(**prompt, max_new_tokens=12, do_sample=False)
    assert out.shape[1] > prompt["input_ids"].shape[1]

    # `adapters merge` writes a model that plain transformers loads, with the adapter folded in.
    from transformers import AutoModelForCausalLM

    from expertune.train.registry import export, merge

    merged_dir = tiny_ws.root / "merged"
    merge(tiny_ws, "quick@1", merged_dir)
    merged = AutoModelForCausalLM.from_pretrained(str(merged_dir))
    with torch.no_grad():
        diff = (merged(**prompt).logits - tuned(**prompt).logits).abs().max().item()
    assert diff < 1e-3
    exported = export(tiny_ws, "quick", tiny_ws.root / "exported")
    config = json.loads((Path(exported["exported_path"]) / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"


def test_train_refuses_split_leakage_unless_allowed(tiny_ws, tmp_path):
    from sqlalchemy import select

    from conftest import chat_record, write_jsonl
    from expertune.curate.gate import GateFailed
    from expertune.data.ingest import import_file
    from expertune.store import repo
    from expertune.store.tables import PromptGroup

    # The same question, differently capitalised (another group), placed in the other split.
    import_file(tiny_ws, write_jsonl(tmp_path / "leak.jsonl", [chat_record(
        "what is an offer?", "It is a promise to be bound on stated terms.", system="Answer in one sentence.")]))
    with tiny_ws.session() as s:
        original = s.scalar(select(PromptGroup).where(PromptGroup.prompt == "What is an offer?"))
        leaked = s.scalar(select(PromptGroup).where(PromptGroup.prompt == "what is an offer?"))
        repo.edit_group(s, leaked.id, {"split": "val" if original.split == "train" else "train"},
                        expected_version=leaked.version, author="test", reason="manual edit")
    with pytest.raises(GateFailed, match="leakage"):
        train(tiny_ws, "cpu-quick", QUICK, show_progress=False)
    record = train(tiny_ws, "cpu-quick", [*QUICK, "max_steps=2"], allow=["leakage"], show_progress=False)
    assert record.status == "completed" and record.gate["passed"]


def test_audit_marks_only_completion_and_eos_as_trained(tiny_ws):
    from expertune.data.versions import snapshot
    from expertune.models import resolve
    from expertune.train.audit import audit_examples
    from expertune.train.data import load_examples
    from expertune.train.recipe import load_recipe

    recipe = load_recipe("cpu-quick", QUICK)
    base = resolve(recipe.base_model)
    report = audit_examples(recipe, base.path, base.chat_template_source,
                            load_examples(snapshot(tiny_ws), recipe), n_samples=2)
    sample = report.samples[0]
    trained = "".join(s["text"] for s in sample["segments"] if s["trained"])
    masked = "".join(s["text"] for s in sample["segments"] if not s["trained"])
    assert trained.rstrip("\n").endswith("<|im_end|>") and "<|im_start|>assistant" not in trained
    assert "Answer in one sentence." in masked and masked.endswith("<|im_start|>assistant\n")
    assert report.errors == [] and report.trained_tokens["train"] > 0


def test_too_long_example_blocks_training_unless_allowed(tiny_ws):
    from expertune.curate.gate import GateFailed

    # The curation gate's length check sees it first; past the gate, the audit blocks it too.
    with pytest.raises(GateFailed, match="over max_length 24"):
        train(tiny_ws, "cpu-quick", [*QUICK, "max_length=24"], show_progress=False)
    with pytest.raises(AuditFailed, match="longer than max_length=24"):
        train(tiny_ws, "cpu-quick", [*QUICK, "max_length=24"], allow=["length"], show_progress=False)
    assert not any(tiny_ws.runs_dir.iterdir())
    record = train(tiny_ws, "cpu-quick", [*QUICK, "max_length=36", "allow_truncation=true", "max_steps=2"],
                   allow=["length"], show_progress=False)
    assert record.status == "completed" and record.audit.truncated


def _adapter_weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path / "adapter_model.safetensors"))


def test_sigkill_mid_training_resumes_to_the_same_adapter(tiny_ws, tmp_path):
    args = ["cpu-quick", *[a for o in QUICK for a in ("--set", o)], "--set", "max_steps=8", "--json"]
    cmd = [sys.executable, "-m", "expertune", "-w", str(tiny_ws.root), "train", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if list(tiny_ws.runs_dir.glob("*/checkpoints/checkpoint-4/adapter_model.safetensors")):
            break
        time.sleep(0.2)
    assert proc.poll() is None, "training finished before it could be killed"
    time.sleep(0.5)  # let the checkpoint finish writing its optimizer state
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    resumed = subprocess.run([sys.executable, "-m", "expertune", "-w", str(tiny_ws.root), "train", "--resume", "--json"],
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    resumed_record = json.loads(resumed.stdout)
    assert resumed_record["status"] == "completed" and resumed_record["steps"] == 8
    assert resumed_record["resumed_from"].endswith(("checkpoint-4", "checkpoint-6"))

    straight = train(tiny_ws, "cpu-quick", [*QUICK, "max_steps=8"], show_progress=False)
    a = _adapter_weights(Path(resumed_record["adapter"]["path"]))
    b = _adapter_weights(Path(straight.adapter.path))
    assert a.keys() == b.keys()
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-3
    assert abs(resumed_record["best_eval_loss"] - straight.best_eval_loss) < 1e-3


def test_group_weighting_inverse_trains(tiny_ws):
    record = train(tiny_ws, "cpu-quick", [*QUICK, "max_steps=2", "group_weighting=inverse"], show_progress=False)
    assert record.status == "completed" and record.steps == 2


def test_the_run_plan_knows_the_base_models_size(tiny_ws):
    from expertune.models import count_parameters, resolve
    from expertune.train.recipe import load_recipe
    from expertune.train.run import prepare

    run_dir = prepare(tiny_ws, load_recipe("cpu-quick", QUICK), dataset_version=None, allow=(), num_processes=None)
    params = read_run(run_dir).device.parameters
    assert params == count_parameters(resolve("builtin:smollm2-135m-instruct").path) and 1.2e8 < params < 1.5e8


@pytest.mark.parametrize("policy", [["system_prompt=drop"], ["system_prompt=override", "system_prompt_text=Be a tutor."]],
                         ids=["drop", "override"])
def test_evaluation_renders_for_an_adapter_as_its_training_did(tiny_ws, policy):
    """Raw conversations from the store, rendered for the tuned model by evaluation (generation
    prompts, perplexity), equal the training rows token for token: the adapter's recorded
    system-prompt policy is applied inside the model, whatever the caller passes."""
    from expertune.evaluate.tasks.perplexity import heldout_examples, scorer_for
    from expertune.llm.render import SystemPolicy
    from expertune.llm.scoring import completion_logprobs
    from expertune.train.sft import tokenise

    record = train(tiny_ws, "cpu-quick", [*QUICK, "max_steps=2", *policy], show_progress=False)
    run_dir = tiny_ws.runs_dir / record.id
    trained = tokenise(_examples_of(run_dir, "val"), AutoTokenizer.from_pretrained(record.adapter.path),
                       SystemPolicy.from_recipe(record.recipe))
    tuned = _tuned(tiny_ws, record.adapter.ref)
    from expertune.llm.local import LocalChatModel

    # the adapter folder alone (its marker file) carries the policy too
    assert LocalChatModel("builtin:smollm2-135m-instruct", record.adapter.path).policy == tuned.policy
    assert tuned.policy == SystemPolicy.from_recipe(record.recipe) and tuned.id.endswith(tuned.policy.tag)
    held = {e["response_id"]: e for e in heldout_examples(tiny_ws, ("val",))}
    assert len(held) == len(trained) > 0
    for row in trained:
        ex = held[row["response_id"]]
        assert ex["messages"][0] == {"role": "system", "content": "Answer in one sentence."}  # raw, as stored
        conversation = [*ex["messages"], {"role": "assistant", "content": ex["completion"]}]
        assert tuned.render(conversation) == (row["input_ids"], row["completion_mask"])
        start = row["completion_mask"].index(1)
        assert tuned.render(ex["messages"]).input_ids == row["input_ids"][:start]  # the generation prompt
        assert "Answer in one sentence." not in tuned.tokenizer.decode(row["input_ids"])
    # perplexity scores the raw held-out examples through the adapter's policy
    pairs = [(held[r["response_id"]]["messages"], held[r["response_id"]]["completion"]) for r in trained]
    expected = completion_logprobs(tuned.model, tuned.tokenizer, pairs, policy=SystemPolicy.from_recipe(record.recipe))
    got = scorer_for(tuned)(pairs)
    assert [g["n_tokens"] for g in got] == [e["n_tokens"] for e in expected]
    assert [g["sum_logprob"] for g in got] == pytest.approx([e["sum_logprob"] for e in expected], abs=1e-5)


def _tuned(ws, ref: str):
    from expertune.llm.local import LocalChatModel
    from expertune.store.adapters import resolve_adapter

    return LocalChatModel("builtin:smollm2-135m-instruct", adapter_info=resolve_adapter(ws, ref))


def _examples_of(run_dir: Path, split: str):
    return [json.loads(l) for l in (run_dir / "data" / f"{split}.jsonl").read_text().splitlines() if l.strip()]
