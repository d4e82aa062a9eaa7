"""Run records (expertune/records.py): validated on write and read, and old run.json files still read."""

import json

import pytest
from run_helpers import OLD_RUN, copy_old_run, sft_run

from expertune.errors import InputError, NotFound
from expertune.records import (SCHEMA_VERSION, AdapterMetrics, DpoRun, SftRun, parse_run, read_run,
                               write_run)


def test_an_old_run_json_reads_with_the_new_fields_at_their_defaults():
    raw = json.loads((OLD_RUN / "run.json").read_text())
    assert "schema_version" not in raw and "kind" not in raw and "parameters" not in raw["device"]
    assert "group_by_length" not in raw["recipe"]
    run = read_run(OLD_RUN)
    assert isinstance(run, SftRun) and run.kind == "sft" and run.schema_version == SCHEMA_VERSION
    assert run.device.parameters is None and run.recipe.group_by_length is True
    assert (run.status, run.adapter.ref, run.recipe.adapter_name, run.base_model.chat_template_source) == (
        "completed", "legal@1", "legal", "model")
    assert run.policy.mode == "drop" and run.audit.token_lengths["train"]["max"] == 97


def test_a_record_round_trips_through_its_file(tmp_path):
    run = sft_run(id="r2", status="trained", steps=3)
    write_run(tmp_path, run)
    again = read_run(tmp_path)
    assert again == run and again.schema_version == SCHEMA_VERSION
    assert json.loads((tmp_path / "run.json").read_text())["kind"] == "sft"


def test_a_dpo_record_is_told_apart_by_its_kind(tmp_path):
    data = sft_run().model_dump(mode="json", exclude={"examples", "num_processes", "threads_per_process", "max_steps",
                                                      "best_checkpoint", "started_at", "finished_at", "resumed_from",
                                                      "wall_seconds_before_resume"})
    data.update(best_eval_loss=None, trained_tokens=None, tokens_per_second=None)  # SFT's measures
    data.update(kind="dpo", recipe={**data["recipe"], "beta": 0.2},
                from_adapter={"path": "/a", "kind": "lora", "sha256": "s", "name": "legal", "version": 1,
                              "system_prompt_policy": {"mode": "drop", "text": None}},
                pairs={"train": 4, "held_out": 2, "sources": {"review": 4}},
                audit={"pairs": 4, "completions_without_eos": 0, "truncated_pairs": 0, "max_length": 512},
                margins={"pairs": 2, "groups": 1, "before": -0.5, "after": 0.25, "change": 0.75, "change_ci": [0.1, 1.2],
                         "ci_method": "bootstrap over prompts", "improved_pairs": 2})
    run = parse_run(data, "run.json")
    assert isinstance(run, DpoRun) and run.recipe.beta == 0.2 and run.margins.change_ci == (0.1, 1.2)
    write_run(tmp_path, run)
    assert read_run(tmp_path) == run
    assert AdapterMetrics.of_run(run).best_eval_loss is None  # DPO has no validation loss


def test_writers_cannot_store_a_wrong_or_unknown_field():
    run = sft_run()
    with pytest.raises(ValueError):
        run.status = "finished"  # not a run status
    with pytest.raises(ValueError):
        run.updated(stepz=3)


@pytest.mark.parametrize("change, field", [
    (lambda d: d.pop("base_model"), "base_model"),
    (lambda d: d["recipe"].update(method="dora"), "recipe.method"),
    (lambda d: d.update(status="finished"), "status"),
    (lambda d: d.update(surprise=1), "surprise"),
    (lambda d: d.update(kind="ppo"), "kind 'ppo'"),
])
def test_an_invalid_run_json_is_an_input_error_naming_file_and_field(tmp_path, change, field):
    data = json.loads((OLD_RUN / "run.json").read_text())
    change(data)
    (tmp_path / "run.json").write_text(json.dumps(data))
    with pytest.raises(InputError) as err:
        read_run(tmp_path)
    assert str(tmp_path / "run.json") in str(err.value) and field in str(err.value)
    assert "sft." not in str(err.value)  # the union's tag is not a field of the file


def test_unreadable_missing_and_newer_files_say_so(tmp_path):
    with pytest.raises(NotFound, match="no run record"):
        read_run(tmp_path)
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        read_run(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({**json.loads((OLD_RUN / "run.json").read_text()),
                                                   "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(InputError, match="newer expertune"):
        read_run(tmp_path)


def test_an_old_run_can_be_found_to_resume(ws):
    from expertune.train.run import find_run

    run_dir = copy_old_run(ws.runs_dir)
    write_run(run_dir, read_run(run_dir).updated(status="interrupted"))
    assert find_run(ws, None) == run_dir


def test_an_adapter_marker_reads_in_its_old_shape_and_names_a_bad_field(tmp_path):
    from expertune.errors import ConfigError
    from expertune.llm.adapters import ADAPTER_MARKER, read_marker

    assert read_marker(tmp_path).name is None  # no marker: a plain PEFT folder
    old = {"name": "tiny", "version": 1, "kind": "lora", "base_model": "builtin:smollm2-135m-instruct",
           "base_sha256": "x", "run_id": "r", "dataset_hash": "h", "chat_template_source": "model"}  # no policy yet
    (tmp_path / ADAPTER_MARKER).write_text(json.dumps(old))
    marker = read_marker(tmp_path)
    assert (marker.name, marker.version, marker.system_prompt_policy) == ("tiny", 1, None)
    (tmp_path / ADAPTER_MARKER).write_text(json.dumps({**old, "kind": "dora"}))
    with pytest.raises(ConfigError, match=rf"{ADAPTER_MARKER}: not a valid adapter marker \(kind: "):
        read_marker(tmp_path)


def test_an_adapter_as_loaded_is_one_validated_record_shared_by_dpo_runs_and_eval_plans():
    """llm.adapters.AdapterInfo is records.AdapterInfo (one model, not a dataclass and a copy):
    validated when built and assigned, and what a DPO run records as its starting adapter."""
    from pydantic import ValidationError

    from expertune.llm import adapters
    from expertune.records import AdapterInfo

    assert adapters.AdapterInfo is AdapterInfo
    info = AdapterInfo(path="/a/legal", kind="lora", sha256="s", name="legal", version=2, recipe={"method": "lora"},
                       system_prompt_policy={"mode": "override", "text": "Be brief."})
    assert info.system_prompt_policy.text == "Be brief." and info.label == "legal@2"
    assert AdapterInfo(path="/a/legal", kind="lora", sha256="s").label == "legal"
    with pytest.raises(ValidationError, match="sha265"):
        AdapterInfo(path="/a", kind="lora", sha265="s")
    with pytest.raises(ValidationError, match="version"):
        info.version = "two"
    assert DpoRun.model_fields["from_adapter"].annotation is AdapterInfo
