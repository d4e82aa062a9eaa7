"""Completion log-probabilities on the builtin model: exact, and independent of batching."""

import math

import pytest

from expertune.llm.render import render
from expertune.llm.scoring import completion_logprobs

pytestmark = pytest.mark.integration

EXAMPLES = [
    ([{"role": "user", "content": "Hi"}], "Hello."),
    ([{"role": "system", "content": "You are a contract-law tutor."},
      {"role": "user", "content": "Is an advertisement an offer?"}],
     "Usually not: it is an invitation to treat, as in Partridge v Crittenden."),
    ([{"role": "user", "content": "What is consideration?"},
      {"role": "assistant", "content": "Something of value."},
      {"role": "user", "content": "Give an example."}], "A promise to pay £5 for a book."),
    ([{"role": "user", "content": "Name a remedy."}], "Damages."),
    ([{"role": "user", "content": "Explain frustration in one long sentence please."}],
     "A contract is frustrated when, without the fault of either party, an event makes performance impossible or "
     "radically different from what was promised, so both are discharged from further obligations."),
]


@pytest.fixture(scope="module")
def lm():
    from expertune.models import load_model, load_tokenizer

    name = "builtin:smollm2-135m-instruct"
    return load_model(name), load_tokenizer(name)


def test_hand_check_against_model_logits(lm):
    import torch

    model, tok = lm
    messages, completion = EXAMPLES[0]
    ids, mask = render([*messages, {"role": "assistant", "content": completion}], tok)
    start = mask.index(1)
    # The completion is the assistant turn as rendered, end-of-turn token included.
    assert tok.decode(ids[start:]) == "Hello.<|im_end|>\n"
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0]
    expected = 0.0
    for t in range(start, len(ids)):
        row = logits[t - 1].double()
        expected += float(row[ids[t]] - torch.logsumexp(row, dim=0))
    (got,) = completion_logprobs(model, tok, [EXAMPLES[0]])
    assert got["n_tokens"] == len(ids) - start
    assert got["sum_logprob"] == pytest.approx(expected, abs=1e-4)
    # (the mean is the sum's share per token; comparing it to `expected` again with a tighter
    # tolerance than the sum's failed on float noise alone)
    assert got["mean_logprob"] == pytest.approx(got["sum_logprob"] / got["n_tokens"], rel=1e-12)


def test_mixed_length_batch_equals_one_by_one(lm):
    model, tok = lm
    batched = completion_logprobs(model, tok, EXAMPLES, batch_size=5)
    single = [completion_logprobs(model, tok, [ex], batch_size=1)[0] for ex in EXAMPLES]
    for b, s in zip(batched, single):
        assert b["n_tokens"] == s["n_tokens"]
        assert b["sum_logprob"] == pytest.approx(s["sum_logprob"], abs=1e-4)
        assert b["mean_logprob"] == pytest.approx(s["mean_logprob"], abs=1e-4)
    assert all(math.isfinite(b["sum_logprob"]) and b["sum_logprob"] < 0 for b in batched)
    assert not model.training
