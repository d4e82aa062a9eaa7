import pytest

from expertune.errors import ConfigError
from expertune.train.device import plan_device
from expertune.train.recipe import load_recipe, preset_names
from expertune.train.sft import peft_config


@pytest.mark.parametrize("name", ["brie-lora", "cpu-quick", "qlora", "full"])
def test_every_preset_loads_and_validates(name):
    assert name in preset_names()
    recipe = load_recipe(name)
    assert recipe.base_model == "builtin:smollm2-135m-instruct"


def test_brie_lora_matches_the_study():
    r = load_recipe("brie-lora")
    assert (r.lora.r, r.lora.alpha, r.lora.dropout, r.lora.target_modules) == (16, 32, 0.05, ["q_proj", "v_proj"])
    assert (r.epochs, r.per_device_batch_size * r.gradient_accumulation, r.learning_rate, r.lr_scheduler, r.max_length) == (
        2, 8, 2e-4, "linear", 2048)
    assert r.warmup_ratio > 0


def test_overrides_and_errors_name_the_field(tmp_path):
    assert load_recipe("cpu-quick", ["train.learning_rate=1e-4", "lora.r=4"]).lora.r == 4
    with pytest.raises(ConfigError, match="learning_rat: unknown key"):
        load_recipe("cpu-quick", ["learning_rat=1"])
    with pytest.raises(ConfigError, match="max_length"):
        load_recipe("cpu-quick", ["max_length=-3"])
    bad = tmp_path / "r.yaml"
    bad.write_text("extends: cpu-quick\nlora: {r: 8, alpha: 16, target_modules: [q_proj], rank: 3}\n")
    with pytest.raises(ConfigError, match=r"lora.rank: unknown key"):
        load_recipe(str(bad))
    with pytest.raises(ConfigError, match="presets"):
        load_recipe("no-such-recipe")


def test_user_recipe_extends_a_preset(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("extends: brie-lora\nlearning_rate: 1.0e-4\n")
    r = load_recipe(str(f))
    assert r.name == "mine" and r.learning_rate == 1e-4 and r.lora.r == 16


def test_qlora_is_refused_on_cpu_with_a_clear_message():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigError, match="CUDA GPU"):
        plan_device(method="qlora")


def test_target_modules_per_architecture_and_unknown_names():
    r = load_recipe("cpu-quick", ["lora.target_modules={llama: [q_proj, k_proj], default: [v_proj]}"])
    assert r.lora.modules_for("llama") == ["q_proj", "k_proj"] and r.lora.modules_for("gemma3") == ["v_proj"]
    assert peft_config(r, "llama", {"q_proj", "k_proj", "v_proj"}).target_modules == {"q_proj", "k_proj"}
    r = load_recipe("cpu-quick", ["lora.target_modules=[q_proj, query_key_value]"])
    with pytest.raises(ConfigError, match="query_key_value not found"):
        peft_config(r, "llama", {"q_proj", "v_proj"})


def test_weighting_and_packing_conflict_is_reported():
    with pytest.raises(ConfigError, match="packing"):
        load_recipe("cpu-quick", ["group_weighting=inverse", "packing=true"])


@pytest.mark.parametrize("extends", ["me.yaml", "5", "[cpu-quick]", "''"])
def test_extends_itself_or_not_a_name_is_one_error_naming_the_file(tmp_path, monkeypatch, extends):
    monkeypatch.chdir(tmp_path)
    me = tmp_path / "me.yaml"
    me.write_text(f"extends: {extends}\nlearning_rate: 1.0e-4\n")
    with pytest.raises(ConfigError, match=r"me\.yaml: extends: ") as err:
        load_recipe(str(me))
    assert "extend a different recipe" in str(err.value) or "preset name or a recipe file" in str(err.value)


def test_a_cycle_through_two_recipes_is_named(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match=r"b\.yaml: extends: 'a.yaml' leads back .*a\.yaml -> .*b\.yaml -> .*a\.yaml"):
        load_recipe(str(tmp_path / "a.yaml"))


def test_a_bad_value_in_a_recipe_file_names_the_file_not_set(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("extends: cpu-quick\nlearning_rate: -1\n")
    with pytest.raises(ConfigError, match=rf"^recipe {mine}: invalid configuration\n  learning_rate: ") as err:
        load_recipe(str(mine))
    assert "--set" not in str(err.value)
    with pytest.raises(ConfigError, match=rf"^recipe {mine} with --set epochs=0: invalid configuration"):
        load_recipe(str(mine), ["epochs=0"])
    parent = tmp_path / "parent.yaml"
    parent.write_text("epochs: 0\n")
    (tmp_path / "child.yaml").write_text("extends: parent.yaml\n")  # found next to the child
    with pytest.raises(ConfigError, match=rf"^recipe {parent}: invalid configuration\n  epochs: "):
        load_recipe(str(tmp_path / "child.yaml"))
