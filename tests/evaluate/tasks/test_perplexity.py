"""Held-out NLL with a scripted scorer: per-group averaging, pairing, intervals, caching, OOD sets."""

import json
import math
from pathlib import Path

import pytest
from scipy import stats

from conftest import EXAMPLES, synthetic_groups, write_jsonl
from expertune.data.ingest import import_file
from expertune.data.splits import assign_splits
from expertune.errors import InputError
from expertune.evaluate.tasks import perplexity
from expertune.llm.base import Generation


class ScriptedScorer:
    """NLL per token = `rate` for every completion; tokens = words. Counts scored examples."""

    def __init__(self, rate, id, bump=None):
        self.rate, self.id, self.bump = rate, id, bump or (lambda text: 0.0)
        self.scored = 0

    def completion_logprobs(self, examples):
        self.scored += len(examples)
        out = []
        for _messages, completion in examples:
            n = len(completion.split())
            nll = self.rate + self.bump(completion)
            out.append({"sum_logprob": -nll * n, "n_tokens": n, "mean_logprob": -nll})
        return out

    def generate(self, conversations, params):
        return [Generation(f"A reply to: {c[-1]['content']}", "stop") for c in conversations]


def rec(group, nll, n=10):
    return {"group": group, "split": "val", "sum_logprob": -nll * n, "n_tokens": n, "nll": nll}


def test_groups_are_averaged_first_and_paired():
    # g1 has two responses: base mean (2 + 4) / 2 = 3, tuned 2.5; g2: 1 -> 1.5; g3: 2 -> 2.3
    base = [rec("g1", 2.0), rec("g1", 4.0, n=30), rec("g2", 1.0), rec("g3", 2.0)]
    tuned = [rec("g1", 2.5), rec("g1", 2.5, n=30), rec("g2", 1.5), rec("g3", 2.3)]
    assert perplexity.group_nll(base) == {"g1": 3.0, "g2": 1.0, "g3": 2.0}
    s = perplexity.summarise_model(base)
    # pooled over tokens: (20 + 120 + 10 + 20) / 60 tokens
    assert s["nll_per_token"] == pytest.approx(170 / 60) and s["perplexity"] == pytest.approx(math.exp(170 / 60))
    assert s["nll_group_mean"] == pytest.approx(2.0) and (s["n_groups"], s["n_examples"]) == (3, 4)
    d = perplexity.paired_difference(base, tuned)
    diffs = [-0.5, 0.5, 0.3]
    assert d["n_groups"] == 3 and d["t"]["mean"] == pytest.approx(0.1) and d["tuned_lower"] == 1
    half = stats.t.ppf(0.975, 2) * stats.tstd(diffs) / math.sqrt(3)
    assert d["t"]["ci"] == pytest.approx([0.1 - half, 0.1 + half])
    lo, hi = d["bootstrap"]["ci"]
    assert -0.5 <= lo <= 0.1 <= hi <= 0.5
    assert perplexity.paired_difference(base, tuned)["bootstrap"] == d["bootstrap"]  # seeded


def _workspace_with_heldout(ws, tmp_path):
    import_file(ws, write_jsonl(tmp_path / "d.jsonl", synthetic_groups(30, per_group=2)))
    assign_splits(ws, val=0.2, test=0.2)
    return perplexity.heldout_examples(ws, ("val", "test"))


def test_heldout_examples_come_from_val_and_test_groups_only(ws, tmp_path):
    examples = _workspace_with_heldout(ws, tmp_path)
    assert examples and {e["split"] for e in examples} <= {"val", "test"}
    groups = {e["group"] for e in examples}
    assert len(examples) == 2 * len(groups)  # every accepted answer of a held-out group
    assert examples[0]["messages"][-1]["role"] == "user" and examples[0]["messages"][0]["role"] == "system"


def test_heldout_without_splits_or_data_is_a_clear_error(ws, tmp_path):
    import_file(ws, write_jsonl(tmp_path / "d.jsonl", synthetic_groups(3)))
    with pytest.raises(InputError, match="expertune split"):
        perplexity.heldout_examples(ws, ("val", "test"))
    assign_splits(ws, val=0.0, test=0.0)
    with pytest.raises(InputError, match="no accepted responses in the val/test"):
        perplexity.heldout_examples(ws, ("val", "test"))


def test_run_sets_pairs_base_and_tuned_and_caches_scores(ws, tmp_path):
    examples = _workspace_with_heldout(ws, tmp_path)
    base = ScriptedScorer(2.0, "base-id")
    tuned = ScriptedScorer(1.5, "tuned-id")
    result = perplexity.run_sets({"base": base, "tuned": tuned}, {"heldout": examples}, ws=ws)
    s = result["sets"]["heldout"]["summary"]
    m, d = s["models"], s["differences"]["tuned"]
    assert s["baseline"] == "base" and set(s["differences"]) == {"tuned"}
    assert m["base"]["nll_per_token"] == pytest.approx(2.0) and m["tuned"]["perplexity"] == pytest.approx(math.exp(1.5))
    assert d["t"]["mean"] == pytest.approx(-0.5)
    assert d["tuned_lower"] == d["n_groups"] == m["base"]["n_groups"]
    assert base.scored == len(examples)
    again = perplexity.run_sets({"base": base, "tuned": tuned}, {"heldout": examples}, ws=ws)
    assert base.scored == len(examples) and tuned.scored == len(examples)  # second run: from the store's cache
    assert again["sets"]["heldout"]["summary"] == s
    assert perplexity.rescore(json.loads(json.dumps(result))) == json.loads(json.dumps(result))
    html = perplexity.report_section(result)
    assert "heldout" in html and "-0.500" in html


def test_ood_prompts_without_answers_get_base_generated_references(tmp_path):
    examples, info = perplexity.ood_examples(EXAMPLES / "out_of_domain.jsonl")
    assert len(examples) == 8 and all(e["completion"] is None for e in examples) and info["name"] == "out_of_domain"
    base = ScriptedScorer(2.0, "b")
    tuned = ScriptedScorer(2.0, "t", bump=lambda text: 0.25 if "risotto" in text else 0.0)
    result = perplexity.run_sets({"base": base, "tuned": tuned}, {"ood:out_of_domain": examples})
    entry = result["sets"]["ood:out_of_domain"]
    assert entry["generated_references"] == 8 and len(entry["references"]) == 8
    assert entry["summary"]["differences"]["tuned"]["t"]["mean"] == pytest.approx(0.25 / 8)


def test_ood_file_with_texts_and_messages(tmp_path):
    f = write_jsonl(tmp_path / "ood.jsonl", [
        {"text": "Plain text to score."},
        {"prompt": "Q?", "response": "An answer."},
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there."}]},
    ])
    examples, _ = perplexity.ood_examples(f)
    assert examples[0]["messages"] == perplexity.NEUTRAL_PROMPT and examples[0]["completion"] == "Plain text to score."
    assert examples[1]["messages"] == [{"role": "user", "content": "Q?"}] and examples[1]["completion"] == "An answer."
    assert examples[2]["messages"] == [{"role": "user", "content": "Hi"}] and examples[2]["completion"] == "Hello there."
    bad = write_jsonl(tmp_path / "bad.jsonl", ['{"text": "ok"}', "{nope"])
    with pytest.raises(InputError, match="bad.jsonl:2: bad JSON"):
        perplexity.ood_examples(bad)
    with pytest.raises(InputError, match="exam8.jsonl:1: an exam question"):
        perplexity.ood_examples(Path(__file__).parents[2] / "fixtures" / "exams" / "exam8.jsonl")


def test_models_without_weights_are_refused():
    class Remote:
        id = "remote"

    with pytest.raises(InputError, match="perplexity needs a local model"):
        perplexity.scorer_for(Remote())


def test_heldout_perplexity_reads_test_and_reports_val_apart_as_used_for_checkpoint_selection(ws, tmp_path):
    import_file(ws, write_jsonl(tmp_path / "d.jsonl", synthetic_groups(30, per_group=2)))
    assign_splits(ws, val=0.2, test=0.2)
    sets, info = perplexity.heldout_sets(ws)
    assert list(sets) == ["heldout"] and {e["split"] for e in sets["heldout"]} == {"test"}
    assert perplexity.PerplexityTaskConfig().splits == ["test"]
    sets, info = perplexity.heldout_sets(ws, ["val", "test"])
    val = "val (used for checkpoint selection)"
    assert list(sets) == ["heldout", val]  # never pooled: the val split chose the checkpoint
    assert {e["split"] for e in sets[val]} == {"val"} and info[val]["note"] == "used for checkpoint selection"
    result = perplexity.run_sets({"base": ScriptedScorer(2.0, "b"), "tuned": ScriptedScorer(1.5, "t")}, sets, set_info=info)
    html = perplexity.report_section(result)
    assert "val (used for checkpoint selection)" in html and "heldout" in html
    with pytest.raises(InputError, match="--splits: dev is not a split"):
        perplexity.heldout_sets(ws, ["dev"])
