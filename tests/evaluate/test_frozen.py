"""The frozen plan of an evaluation run (evaluate/frozen.py, evaluate/runs.py) is typed: candidates
and judges are pydantic records validated when a run is created and when it is read back. The
cache identities derived from it (model_id: generations; judge_id and rubric hash: judgments) must
stay byte-for-byte what they were before the plan was typed, or every user's cached generations and
judgments would silently be redone: tests/fixtures/eval_plans/frozen-plan-v0.json is the plan the
dict-based code froze for the fixed models below (base, adapter and endpoint settings), and a plan
stored in that shape still reads."""

import json
from pathlib import Path

import pytest

from expertune.errors import ConfigError, InputError
from expertune.evaluate.config import EvalConfig
from expertune.evaluate.frozen import (
    FrozenJudge, FrozenLocalCandidate, FrozenLocalJudge, FrozenRemoteCandidate, chat_model, sha256_json,
)
from expertune.evaluate.pairwise.generation import generation_key, plan_generations
from expertune.evaluate.runs import EvalRunRecord, get_run, resolve_candidates, resolve_judges, rubric_hash
from expertune.records import AdapterInfo
from expertune.store.eval_models import EvalPrompt, EvalRun

PLAN_V0 = Path(__file__).parents[1] / "fixtures" / "eval_plans" / "frozen-plan-v0.json"

BASE_SHA = "08dfbc618cd4ca8dea27c8669d1e9c49ce24fb4fdc4be32ee7926b1ce7084dbf"
TUNED_ID = (f"local:{BASE_SHA}+lora:3fb40112d1b9ed592a657c36e9ff6f5b4e17529506f4526ab40ba53e2968352f"
            "+system:override:0186891ac3ff9b8c")
JUDGE_IDS = {"lj": "e30101e621fb16d787cfdbeecdc7eca83de8fd880d77979770af1b7a3eeef942",
             "oj": "15056dc1141a762eb8b926abedea0530de823e25b1c36f70b6e4a7585e8b078f",
             "sj": "6d67a1f2e524d317cccfe5a8df226bb23e54b3ffc240e2bc1a27446f67827e10",
             "human:alice": "26dcffb8226a20b21c680e8dfe5024d6cffacdeabbd9a6a5ed8202d8485adf43"}
RUBRIC_HASH = "a656b7494be54e94c72cfc6b92e77aa91d769500ea3a744be49486970a06c514"


def _models(root: Path) -> tuple[Path, Path]:
    """A base model folder and a LoRA adapter folder whose weights are fixed bytes (their hashes
    are all an identity needs; nothing here loads them)."""
    base = root / "base"
    base.mkdir()
    (base / "config.json").write_text("{}")
    (base / "model.safetensors").write_bytes(b"base weights")
    adapter = root / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(base)}))
    (adapter / "adapter_model.safetensors").write_bytes(b"adapter weights")
    (adapter / "expertune-adapter.json").write_text(json.dumps(
        {"name": "legal", "version": 3, "kind": "lora",
         "system_prompt_policy": {"mode": "override", "text": "Answer as a lawyer."}}))
    return base, adapter


def _config(base: Path, adapter: Path) -> EvalConfig:
    return EvalConfig.model_validate({
        # fp32 pinned: the fixture's identities are fp32 ones ("auto" is bf16 on CPUs with native bf16)
        "precision": "fp32",
        "candidates": [{"name": "base", "model": str(base), "batch_size": 4},
                       {"name": "tuned", "model": str(base), "adapter_path": str(adapter)},
                       {"name": "api", "type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "gpt-x"}],
        "prompts": [{"split": "test"}],
        "judges": [{"name": "lj", "model": str(base), "rubric_scores": True},
                   {"name": "oj", "type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "judge-x",
                    "temperature": 0.1},
                   {"name": "sj", "type": "scripted", "script": "first"},
                   {"name": "alice", "type": "human"}]})


def _plan_v0(root: Path) -> dict:
    return json.loads(PLAN_V0.read_text(encoding="utf-8").replace("ROOT", str(root)))


def test_a_fixed_plan_freezes_to_the_same_identities_and_json_as_before(ws, tmp_path):
    base, adapter = _models(tmp_path)
    config = _config(base, adapter)
    candidates, judges = resolve_candidates(ws, config), resolve_judges(ws, config)
    assert [type(c) for c in candidates] == [FrozenLocalCandidate, FrozenLocalCandidate, FrozenRemoteCandidate]
    assert [type(j) for j in judges] == [FrozenLocalJudge, FrozenJudge, FrozenJudge, FrozenJudge]
    assert [c.model_id for c in candidates] == [f"local:{BASE_SHA}", TUNED_ID, "openai:http://127.0.0.1:9/v1|gpt-x"]
    assert {j.name: j.judge_id for j in judges} == JUDGE_IDS
    assert rubric_hash(config) == RUBRIC_HASH
    # The stored JSON is the shape the dict-based plan had, key for key and value for value.
    assert {"candidates": [c.model_dump(mode="json") for c in candidates],
            "judges": [j.model_dump(mode="json") for j in judges], "rubric_hash": RUBRIC_HASH} == _plan_v0(tmp_path)
    # and so the generation cache keys of a prompt are what they were
    assert generation_key(candidates[1].model_id, "p" * 64, 0.7, 256, 1.0, 0, 0) == sha256_json(
        {"model": TUNED_ID, "prompt": "p" * 64, "temperature": 0.7, "max_new_tokens": 256, "top_p": 1.0, "seed": 0,
         "sample": 0})


def _store_run(ws, lineage: dict, config: EvalConfig) -> int:
    config_data = config.model_dump(mode="json")
    with ws.session() as session:
        run = EvalRun(name="old", config=config_data, config_hash=sha256_json(config_data), lineage=lineage,
                      folder=str(ws.runs_dir / "eval-old"))
        session.add(run)
        session.flush()
        session.add(EvalPrompt(run_id=run.id, idx=0, set_name="split:test", in_domain=True, source="test", topic=None,
                               messages=[{"role": "user", "content": "Is a verbal contract binding?"}],
                               prompt_hash="p" * 64))
        return run.id


def _old_lineage(root: Path, config: EvalConfig) -> dict:
    """A lineage as runs created before the plan was typed stored it (no schema_version)."""
    plan = _plan_v0(root)
    return {"created_at": "2026-11-30T10:00:00+00:00", "expertune_version": "0.1.0", "config_source": None,
            "dataset_version": {"id": 1, "hash": "d" * 64, "name": None, "created_at": "2026-11-29T09:00:00"},
            "baseline": "base", "candidates": plan["candidates"], "judges": plan["judges"],
            "grid": config.grid.model_dump(mode="json"), "rubric_hash": plan["rubric_hash"],
            "prompt_sets": [{"name": "split:test", "prompts": 1, "in_domain": 1, "out_of_domain": 0}]}


def test_a_run_stored_in_the_old_shape_reads_typed_with_its_identities(ws, tmp_path):
    base, adapter = _models(tmp_path)
    config = _config(base, adapter)
    old = _old_lineage(tmp_path, config)
    # Older still: a local candidate without batch_size, an adapter without the fields added since.
    del old["candidates"][0]["batch_size"]
    for key in ("system_prompt_policy", "registry_id", "chat_template_source"):
        del old["candidates"][1]["adapter"][key]
    run = get_run(ws, _store_run(ws, old, config))
    assert isinstance(run, EvalRunRecord) and run.lineage.schema_version == 1 and run.prompts[0].in_domain
    base_c, tuned, api = run.lineage.candidates
    assert isinstance(base_c, FrozenLocalCandidate) and base_c.batch_size == 32
    assert isinstance(tuned.adapter, AdapterInfo) and tuned.adapter.label == "legal@3"
    assert isinstance(api, FrozenRemoteCandidate) and api.endpoint.concurrency == 4 and api.adapter is None
    assert [j.judge_id for j in run.lineage.judges] == list(JUDGE_IDS.values())
    assert run.lineage.judges[0].settings["rubric_scores"] is True
    # The plan's cache keys are computed from the stored identities, unchanged.
    keys = {(t.candidate, t.model_id) for t in plan_generations(run)}
    assert keys == {("base", f"local:{BASE_SHA}"), ("tuned", TUNED_ID), ("api", "openai:http://127.0.0.1:9/v1|gpt-x")}
    # Written back, the old fields keep their values (only schema_version and the defaults are added).
    dumped = run.lineage.model_dump(mode="json")
    assert {k: dumped[k] for k in old if k not in ("candidates",)} == {k: v for k, v in old.items() if k != "candidates"}
    assert dumped["candidates"][2] == old["candidates"][2]


def test_a_damaged_plan_is_an_input_error_naming_the_run_and_field(ws, tmp_path):
    base, adapter = _models(tmp_path)
    config = _config(base, adapter)
    old = _old_lineage(tmp_path, config)
    del old["candidates"][1]["model_id"]
    run_id = _store_run(ws, old, config)
    with pytest.raises(InputError, match=rf"eval run {run_id}: not a valid evaluation run \(lineage\.candidates\.1"
                                         r"\.local\.model_id: Field required"):
        get_run(ws, run_id)
    newer = _old_lineage(tmp_path, config) | {"schema_version": 9}
    with pytest.raises(InputError, match="schema_version 9 was written by a newer expertune"):
        get_run(ws, _store_run(ws, newer, config))


def test_a_bf16_candidate_is_another_identity_and_auto_is_resolved_when_the_run_is_created(ws, tmp_path, monkeypatch):
    """bf16 weights answer differently: a bf16 candidate's generations are cached under their own
    identity, its plan stores the precision it runs in, and "auto" is resolved once, at freezing."""
    import expertune.llm.scoring as scoring

    base, adapter = _models(tmp_path)
    data = _config(base, adapter).model_dump(mode="json")
    data["candidates"][0]["precision"] = "bf16"  # its own
    data["precision"] = "auto"  # the tuned candidate's
    monkeypatch.setattr(scoring, "native_bf16", lambda device: True)
    base_c, tuned, _ = resolve_candidates(ws, EvalConfig.model_validate(data))
    assert (base_c.model_id, tuned.model_id) == (f"local:{BASE_SHA}+bf16", TUNED_ID + "+bf16")
    assert base_c.model_dump(mode="json")["precision"] == tuned.precision == "bf16"
    assert FrozenLocalCandidate.model_validate(tuned.model_dump(mode="json")) == tuned
    model = chat_model(tuned)  # opens in the frozen precision, whatever this machine would pick now
    monkeypatch.setattr(scoring, "native_bf16", lambda device: False)
    assert (model.precision, model.id) == ("bf16", tuned.model_id) and chat_model(tuned).id == tuned.model_id
    assert resolve_candidates(ws, EvalConfig.model_validate(data))[1].model_id == TUNED_ID


def test_a_frozen_model_opens_with_its_frozen_adapter_and_refuses_changed_weights(ws, tmp_path):
    base, adapter = _models(tmp_path)
    tuned = resolve_candidates(ws, _config(base, adapter))[1]
    model = chat_model(tuned)  # nothing is loaded until it generates
    assert model.id == TUNED_ID and model.adapter == tuned.adapter and model.policy.mode == "override"
    assert chat_model(tuned, batch_size=2).batch_size == 2
    (adapter / "adapter_model.safetensors").write_bytes(b"retrained")
    with pytest.raises(ConfigError, match="the adapter's weights changed since this run was created"):
        chat_model(tuned)
