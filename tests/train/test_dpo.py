"""DPO on the expert's preferences: pairs from the review (the bundled sample's preferred answers),
tokens through the one renderer, and a real DPO run from an SFT adapter on the builtin model that
raises the held-out margin (log P preferred - log P other), reported with an interval."""

from __future__ import annotations

import json

import pytest
from conftest import EXAMPLES, QUICK

from expertune.data.ingest import import_file
from expertune.data.splits import assign_splits
from expertune.train.dpo import load_dpo_recipe, margin_summary, preference_pairs


REJECTED = {json.loads(line)["messages"][-1]["content"]
            for line in (EXAMPLES / "preferences.jsonl").read_text(encoding="utf-8").splitlines()}


@pytest.fixture
def sample_ws(ws):
    import_file(ws, EXAMPLES / "contracts.jsonl")
    import_file(ws, EXAMPLES / "preferences.jsonl")  # one rejected answer per prompt
    assign_splits(ws, val=0.2, test=0.1, seed=0)
    return ws


def test_the_bundled_sample_gives_preference_pairs_split_by_group(sample_ws):
    pairs = preference_pairs(sample_ws)
    everything = pairs["train"] + pairs["held_out"]
    # one preferred answer per group over each other answer (92 - 30), 6 pairs of other answers
    # whose ratings differ (data.export.dpo_pairs: rejected, then preferred, then rating), and every
    # accepted answer over its group's rejected one (92)
    assert len(everything) == 92 - 30 + 6 + 92
    assert sum(p["rejected"][0]["content"] in REJECTED for p in everything) == 92
    assert pairs["train"] and pairs["held_out"]
    train_groups = {p["group_id"] for p in pairs["train"]}
    assert train_groups.isdisjoint({p["group_id"] for p in pairs["held_out"]})  # no held-out prompt is trained on
    for p in everything:
        assert p["chosen"][0]["content"] != p["rejected"][0]["content"] and p["prompt"][-1]["role"] == "user"


def test_the_dpo_preset_validates_and_rejects_unknown_keys():
    recipe = load_dpo_recipe("dpo", ["beta=0.2"])
    assert (recipe.beta, recipe.adapter_name, recipe.human_pairs) == (0.2, "dpo", True)
    from expertune.errors import ConfigError

    with pytest.raises(ConfigError, match="betta"):
        load_dpo_recipe("dpo", ["betta=0.2"])


def test_margin_summary_pairs_before_and_after_and_resamples_groups():
    s = margin_summary([0.0, 1.0, -1.0, 2.0], [1.0, 1.5, 0.0, 2.0], ["g1", "g1", "g2", "g3"], n_boot=300)
    assert (s.pairs, s.groups, s.improved_pairs) == (4, 3, 3)
    assert s.change == pytest.approx(0.625) and s.change_ci[0] <= 0.625 <= s.change_ci[1]


@pytest.mark.integration
def test_tokenized_pairs_come_from_the_one_renderer(sample_ws):
    from transformers import AutoTokenizer

    from expertune.llm.render import AS_DATA, render
    from expertune.models import resolve
    from expertune.train.dpo import tokenize_pair

    tok = AutoTokenizer.from_pretrained(resolve("builtin:smollm2-135m-instruct").path)
    pair = preference_pairs(sample_ws)["train"][0]
    t = tokenize_pair(pair, tok, AS_DATA)
    assert t["prompt_ids"] + t["chosen_ids"] == render([*pair["prompt"], *pair["chosen"]], tok).input_ids
    assert t["prompt_ids"] + t["rejected_ids"] == render([*pair["prompt"], *pair["rejected"]], tok).input_ids
    assert tok.eos_token_id in t["chosen_ids"] and tok.eos_token_id in t["rejected_ids"]  # the end of turn is trained


@pytest.mark.integration
@pytest.mark.slow
def test_dpo_from_an_sft_adapter_raises_the_held_out_margin(sample_ws):
    from expertune.train.dpo import train_dpo
    from expertune.store.adapters import list_adapters
    from expertune.train.run import train

    sft = train(sample_ws, "cpu-quick", [*QUICK, "max_length=1024", "adapter_name=demo"], show_progress=False)
    assert sft.status == "completed"
    record = train_dpo(sample_ws, "demo@current", "dpo", ["max_steps=12", "learning_rate=1e-3"],
                       show_progress=False)
    assert record.status == "completed" and record.adapter.ref == "dpo@1"
    assert record.from_adapter.name == "demo" and record.audit.completions_without_eos == 0
    m = record.margins
    # measured 2026-12-02 (2-core CPU, no bf16): +6.66 [+4.51, +9.28] over 7 groups, 44 pairs
    print("held-out margin", m)
    assert m.pairs > 0 and m.after > m.before
    assert m.change_ci[0] > 0  # the whole interval over prompt groups is above zero
    assert any(a.name == "dpo" for a in list_adapters(sample_ws))
