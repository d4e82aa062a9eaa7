"""The eval config: strict keys, clear errors naming the field, --set overrides, the example."""

from pathlib import Path

import pytest
import yaml

from expertune.errors import ConfigError
from expertune.evaluate.config import EvalConfig, load_eval_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "eval.yaml"
MINIMAL = {"candidates": [{"name": "base"}, {"name": "tuned", "adapter_path": "runs/x/adapter"}],
           "prompts": [{"split": "test"}], "judges": [{"name": "j"}]}


def write(tmp_path, data):
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_defaults_and_types():
    c = EvalConfig.model_validate(MINIMAL)
    assert [x.type for x in c.candidates] == ["local", "local"] and c.judges[0].type == "local"
    assert c.baseline_name == "base"
    assert [x.name for x in c.rubric.criteria] == ["Creativity", "Coherence", "Depth", "Engagement", "Quality"]
    assert (c.rubric.scale_min, c.rubric.scale_max, c.rubric.labels) == (1, 5, ["A", "B"])
    assert c.grid.cells == [(0.7, 256)]
    assert c.precision == "auto" and c.candidates[0].precision is None  # a candidate takes the config's


def test_the_example_config_is_valid():
    c = load_eval_config(EXAMPLE)
    assert [x.name for x in c.candidates] == ["base", "tuned"] and c.candidates[1].adapter == "demo@current"
    assert c.prompts[0].split == "test" and c.prompts[1].evalset == "out_of_domain" and c.prompts[1].in_domain is False
    assert c.grid.cells == [(0.7, 128)] and c.judges[0].type == "local"


def test_overrides(tmp_path):
    c = load_eval_config(write(tmp_path, MINIMAL), ["grid.temperatures=[0.5, 0.75, 1.0]", "grid.max_new_tokens=[256,512,1024]",
                                                    "budget_usd=2.5", "rubric.labels=[X, Y]"])
    assert len(c.grid.cells) == 9 and c.budget_usd == 2.5 and c.rubric.labels == ["X", "Y"]
    assert load_eval_config(write(tmp_path, MINIMAL), ["precision=fp32"]).precision == "fp32"


@pytest.mark.parametrize("change, message", [
    ({"candidatez": []}, "candidatez: unknown key"),
    ({"grid": {"temperature": [1]}}, "grid.temperature: unknown key"),
    ({"grid": {"temperatures": [3]}}, "grid.temperatures.0"),
    ({"candidates": [{"name": "a"}, {"name": "a"}]}, "names must be unique"),
    ({"candidates": [{"name": "a", "adapter": "x@1", "adapter_path": "p"}, {"name": "b"}]}, "either adapter"),
    ({"candidates": [{"name": "a"}, {"name": "b", "type": "openai", "model": "m"}]}, "candidates.1.openai.base_url"),
    ({"candidates": [{"name": "a"}, {"name": "b", "type": "vllm"}]}, "candidates.1"),
    ({"baseline": "nobody"}, "baseline 'nobody' is not a candidate"),
    ({"prompts": [{"split": "train"}]}, "prompts.0.split"),
    ({"prompts": [{"split": "test", "evalset": "x"}]}, "exactly one of split"),
    ({"prompts": []}, "judges need prompts"),
    ({"judges": [{"name": "j", "type": "openai", "base_url": "u", "model": "m", "response_format": "xml"}]}, "response_format"),
    ({"judges": [{"name": "j", "type": "scripted"}]}, "script"),
    ({"rubric": {"labels": ["A", "a"]}}, "two distinct"),
    ({"rubric": {"labels": ["A", "tie"]}}, "must not be 'tie'"),
    ({"tasks": {"no-such-task": {}}}, "tasks.no-such-task: unknown evaluation task"),
    ({"precision": "fp16"}, "precision"),
    ({"candidates": [{"name": "a", "precision": "half"}, {"name": "b"}]}, "candidates.0.local.precision"),
])
def test_errors_name_the_file_and_field(tmp_path, change, message):
    path = write(tmp_path, {**MINIMAL, **change})
    with pytest.raises(ConfigError) as err:
        load_eval_config(path)
    assert str(path) in str(err.value) and message in str(err.value)
