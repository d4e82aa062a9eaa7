"""The second builtin: Gemma 3 270M, a base model without a chat template, gets expertune's."""

import pytest

from conftest import QUICK
from expertune.data.versions import snapshot
from expertune.models import model_info, resolve
from expertune.train.audit import audit_examples
from expertune.train.data import load_examples
from expertune.train.recipe import load_recipe

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_gemma_gets_an_explicit_template_whose_end_of_turn_is_trained(tiny_ws):
    info = model_info("builtin:gemma3-270m")
    assert info["model_type"].startswith("gemma3") and info["chat_template_source"] == "expertune-gemma-turns"
    assert info["eos_token"] == "<end_of_turn>"
    recipe = load_recipe("cpu-quick", [*QUICK, "base_model=builtin:gemma3-270m"])
    base = resolve(recipe.base_model)
    report = audit_examples(recipe, base.path, base.chat_template_source,
                            load_examples(snapshot(tiny_ws), recipe), n_samples=1)
    assert report.errors == [] and report.eos_token == "<end_of_turn>"
    trained = "".join(s["text"] for s in report.samples[0]["segments"] if s["trained"])
    masked = "".join(s["text"] for s in report.samples[0]["segments"] if not s["trained"])
    assert trained.rstrip().endswith("<end_of_turn>") and masked.endswith("<start_of_turn>model\n")
    assert "Answer in one sentence." in masked
