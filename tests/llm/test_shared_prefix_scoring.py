"""Completions that share a prompt (labels, options, chosen/rejected answers) are scored from one
run of the prompt: the same numbers as scoring every (prompt, completion) as a whole sequence."""

import pytest

from expertune.llm import scoring
from expertune.llm.render import Rendered
from expertune.llm.scoring import _shared_prefixes, completion_logprobs

SYSTEM = {"role": "system", "content": "You label contract-law texts. Answer with the label only."}
PROMPTS = [
    [{"role": "user", "content": "Text: the buyer refused delivery. Label?"}],
    [SYSTEM, {"role": "user", "content": "Text: a shop window shows a bike priced at £50; a passer-by says "
                                         "'I accept' and the owner refuses to sell. Which area? Label?"}],
    [SYSTEM, {"role": "user", "content": "Hi"}],
]
# 1 to 3 tokens each; "offer" and "offer and acceptance" start with the same token, and "\nterms"
# begins with a newline that may merge with the end of the rendered prompt.
LABELS = ["formation", "offer", "offer and acceptance", "misrepresentation", "\nterms"]


def _rendered(ids, prompt_length):
    return Rendered(ids, [0] * prompt_length + [1] * (len(ids) - prompt_length))


def test_groups_are_the_identical_prompt_tokens_of_examples_sharing_them():
    rendered = [
        _rendered([1, 2, 3, 10, 11], 3), _rendered([1, 2, 3, 12], 3),  # shared prompt [1, 2, 3]
        _rendered([1, 2, 4, 13], 3),  # same prompt text, last prompt token merged with the answer's
        _rendered([5, 6, 14], 2),  # alone
        _rendered([1, 2, 3], 3), _rendered([1, 2, 3], 3),  # nothing to score: left to whole scoring
        _rendered([7, 8], 0), _rendered([7, 9], 0),  # no prompt token to predict the first one from
    ]
    assert _shared_prefixes(rendered) == [(3, [0, 1])]


@pytest.fixture(scope="module")
def lm():
    from expertune.models import load_model, load_tokenizer

    name = "builtin:smollm2-135m-instruct"
    return load_model(name), load_tokenizer(name)


def _assert_same(shared, whole):
    assert [s["n_tokens"] for s in shared] == [w["n_tokens"] for w in whole]
    for s, w in zip(shared, whole):
        assert s["sum_logprob"] == pytest.approx(w["sum_logprob"], abs=1e-4)
        assert s["mean_logprob"] == pytest.approx(w["mean_logprob"], abs=1e-4)


@pytest.mark.integration
def test_shared_prompts_score_as_whole_sequences(lm, monkeypatch):
    model, tok = lm
    examples = [(p, lab) for p in PROMPTS for lab in LABELS]
    examples.insert(4, ([{"role": "user", "content": "A prompt of its own."}], "Alone."))
    ran = []
    score_shared = scoring._score_shared
    monkeypatch.setattr(scoring, "_score_shared", lambda *a: ran.append(len(a[3])) or score_shared(*a))
    calls = []
    # batch_size 2: prompts of different lengths share a padded batch, and there are several batches
    shared = completion_logprobs(model, tok, examples, batch_size=2, precision="fp32",
                                 progress=lambda done, total: calls.append((done, total)))
    assert ran and ran[0] >= len(PROMPTS)  # the shared path ran, on every prompt (some labels may merge)
    whole = completion_logprobs(model, tok, examples, batch_size=2, precision="fp32", share_prefixes=False)
    _assert_same(shared, whole)
    assert calls[-1] == (len(examples), len(examples))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert not model.training


@pytest.mark.integration
def test_all_different_prompts_take_the_whole_sequence_path(lm, monkeypatch):
    model, tok = lm
    examples = [(p, lab) for p, lab in zip(PROMPTS, LABELS)]
    monkeypatch.setattr(scoring, "_score_shared", lambda *a: pytest.fail("no prompt is shared"))
    fast = completion_logprobs(model, tok, examples, precision="fp32")
    single = [completion_logprobs(model, tok, [ex], precision="fp32", share_prefixes=False)[0] for ex in examples]
    _assert_same(fast, single)


@pytest.mark.integration
def test_eager_attention_takes_the_additive_mask(lm):
    model, tok = lm
    examples = [(p, lab) for p in PROMPTS[1:] for lab in LABELS[:3]]
    assert model.config._attn_implementation == "sdpa"
    whole = completion_logprobs(model, tok, examples, precision="fp32", share_prefixes=False)
    model.set_attn_implementation("eager")
    try:
        assert scoring._mask_kind(model) == "additive"
        shared = completion_logprobs(model, tok, examples, precision="fp32")
    finally:
        model.set_attn_implementation("sdpa")
    _assert_same(shared, whole)


@pytest.mark.integration
def test_a_cache_other_than_plain_full_attention_falls_back_to_whole_sequences(lm, monkeypatch):
    model, tok = lm
    examples = [(PROMPTS[0], lab) for lab in LABELS[:3]]
    whole = completion_logprobs(model, tok, examples, precision="fp32", share_prefixes=False)
    monkeypatch.setattr(scoring, "plain_cache", lambda cache: False)
    _assert_same(completion_logprobs(model, tok, examples, precision="fp32"), whole)


@pytest.mark.integration
def test_shared_prompts_under_bf16_autocast_are_close(lm):
    model, tok = lm
    examples = [(PROMPTS[1], lab) for lab in LABELS[:3]]
    whole = completion_logprobs(model, tok, examples, precision="bf16", share_prefixes=False)
    shared = completion_logprobs(model, tok, examples, precision="bf16")
    assert [s["n_tokens"] for s in shared] == [w["n_tokens"] for w in whole]
    for s, w in zip(shared, whole):
        assert s["mean_logprob"] == pytest.approx(w["mean_logprob"], abs=0.1)
