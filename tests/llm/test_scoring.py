"""Completion log-probabilities on the builtin model: exact, independent of batching, the same through
the selected-positions head as through full logits, and close in bf16."""

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
    (got,) = completion_logprobs(model, tok, [EXAMPLES[0]], precision="fp32")
    assert got["n_tokens"] == len(ids) - start
    assert got["sum_logprob"] == pytest.approx(expected, abs=1e-4)
    # (the mean is the sum's share per token; comparing it to `expected` again with a tighter
    # tolerance than the sum's failed on float noise alone)
    assert got["mean_logprob"] == pytest.approx(got["sum_logprob"] / got["n_tokens"], rel=1e-12)


def test_mixed_length_batch_equals_one_by_one(lm):
    model, tok = lm
    batched = completion_logprobs(model, tok, EXAMPLES, batch_size=5, precision="fp32")
    single = [completion_logprobs(model, tok, [ex], batch_size=1, precision="fp32")[0] for ex in EXAMPLES]
    for b, s in zip(batched, single):
        assert b["n_tokens"] == s["n_tokens"]
        assert b["sum_logprob"] == pytest.approx(s["sum_logprob"], abs=1e-4)
        assert b["mean_logprob"] == pytest.approx(s["mean_logprob"], abs=1e-4)
    assert all(math.isfinite(b["sum_logprob"]) and b["sum_logprob"] < 0 for b in batched)
    assert not model.training


class LogitsOnly:
    """The builtin model behind nothing but `forward(...).logits` and `parameters()`, as a causal LM
    that exposes no decoder or head of its own: scoring takes the full-logits path."""

    def __init__(self, model):
        self.model, self.training = model, False

    def __call__(self, **kwargs):
        return self.model(**kwargs)

    def parameters(self):
        return self.model.parameters()

    def eval(self):
        return self

    def train(self, mode=True):
        return self


def test_head_on_answer_positions_equals_full_logits_and_keeps_input_order(lm):
    model, tok = lm
    shuffled = [EXAMPLES[i] for i in (4, 0, 2, 3, 1)]  # long, short, ...: sorted inside, returned in this order
    fast = completion_logprobs(model, tok, shuffled, batch_size=2, precision="fp32")
    full = completion_logprobs(LogitsOnly(model), tok, shuffled, batch_size=2, precision="fp32")
    single = [completion_logprobs(model, tok, [ex], precision="fp32")[0] for ex in shuffled]
    for f, g, s in zip(fast, full, single):
        assert f["n_tokens"] == g["n_tokens"] == s["n_tokens"]
        assert f["sum_logprob"] == pytest.approx(g["sum_logprob"], abs=1e-4)
        assert f["sum_logprob"] == pytest.approx(s["sum_logprob"], abs=1e-4)


def test_bf16_scores_are_close_to_fp32(lm):
    model, tok = lm
    fp32 = completion_logprobs(model, tok, EXAMPLES, precision="fp32")
    bf16 = completion_logprobs(model, tok, EXAMPLES, precision="bf16")
    assert next(model.parameters()).dtype.is_floating_point and str(next(model.parameters()).dtype) == "torch.float32"
    for a, b in zip(fp32, bf16):
        assert a["n_tokens"] == b["n_tokens"]
        assert b["mean_logprob"] == pytest.approx(a["mean_logprob"], abs=0.1)
    assert [a["mean_logprob"] for a in fp32] != [b["mean_logprob"] for b in bf16]  # bf16 did run
    with pytest.raises(ValueError, match="precision"):
        completion_logprobs(model, tok, EXAMPLES[:1], precision="fp8")
