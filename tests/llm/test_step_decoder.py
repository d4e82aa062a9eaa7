"""StepDecoder (continuous batching) on the builtin SmolLM2: rows that join a running batch, leave
it early or are cancelled give exactly the tokens the harness gives each prompt alone."""

import pytest
from adapter_helpers import BUILTIN

from expertune.llm.base import GenParams

pytestmark = pytest.mark.integration

CONVS = [
    [{"role": "user", "content": "Name a fruit."}],
    [{"role": "system", "content": "Answer in one short sentence."},
     {"role": "user", "content": "What is a contract? Explain the idea of an offer and an acceptance briefly."}],
    [{"role": "user", "content": "Say hi."}],
    [{"role": "user", "content": "Write two sentences about the sea and the wind."}],
]


@pytest.fixture(scope="module")
def base():
    from expertune.llm.local import LocalChatModel

    return LocalChatModel(BUILTIN, precision="fp32")  # fp32 pinned: these tests compare exact tokens


def _row(base, conv, max_new, **kw):
    from expertune.llm.decoding import DecodeRow

    prompt = base.render(conv).input_ids
    return DecodeRow(prompt=prompt, max_new_tokens=max_new, eos_ids=frozenset(base.eos_ids()), **kw)


def _text(base, row):
    kept = [t for t in row.tokens if t not in row.eos_ids]
    return base.tokenizer.decode(kept, skip_special_tokens=True)


def test_rows_joining_a_running_batch_match_the_harness(base):
    import torch

    from expertune.llm.decoding import StepDecoder

    expected = [g.text for g in base.generate(CONVS, GenParams(temperature=0, max_new_tokens=24))]
    finished, streamed = [], {}
    decoder = StepDecoder(base.model, pad_id=base.tokenizer.pad_token_id)
    rows = [_row(base, c, 24, on_finish=finished.append) for c in CONVS]
    for row in rows:
        streamed[id(row)] = []
        row.on_token = streamed[id(row)].append
    with torch.inference_mode():
        decoder.add(rows[:1])
        for _ in range(3):
            decoder.step()
        decoder.add(rows[1:3])  # join mid-generation, with longer and shorter prompts
        for _ in range(5):
            decoder.step()
        decoder.add(rows[3:])
        while len(decoder):
            decoder.step()
    assert [_text(base, r) for r in rows] == expected
    assert sorted(map(id, finished)) == sorted(map(id, rows))
    for row in rows:  # the callback saw every token but EOS
        assert streamed[id(row)] == [t for t in row.tokens if t not in row.eos_ids]
        assert row.finish_reason in ("stop", "length")


def test_cancel_and_callback_stop_leave_the_batch(base):
    import torch

    from expertune.llm.decoding import StepDecoder

    expected = base.generate(CONVS[1:2], GenParams(temperature=0, max_new_tokens=16))[0].text
    decoder = StepDecoder(base.model, pad_id=base.tokenizer.pad_token_id)
    cancelled = _row(base, CONVS[3], 16)
    stopped = _row(base, CONVS[0], 16, on_token=lambda t: False)  # stops after its first token
    kept = _row(base, CONVS[1], 16)
    with torch.inference_mode():
        decoder.add([cancelled, stopped, kept])
        decoder.step()
        cancelled.cancel()
        while len(decoder):
            decoder.step()
    assert (cancelled.finish_reason, len(cancelled.tokens)) == ("cancelled", 1)
    assert (stopped.finish_reason, len(stopped.tokens)) == ("stop", 1)
    assert _text(base, kept) == expected
    assert decoder.cache is None and decoder.rows == []


def test_seeded_sampling_does_not_depend_on_the_batch(base):
    import torch

    from expertune.llm.decoding import StepDecoder

    params = GenParams(temperature=0.9, top_p=0.9, max_new_tokens=10)
    expected = [g.text for g in base.generate(CONVS[:3], params, seeds=[1, 2, 3])]
    decoder = StepDecoder(base.model, pad_id=base.tokenizer.pad_token_id)
    rows = [_row(base, c, 10, temperature=0.9, top_p=0.9, seed=s) for c, s in zip(CONVS[:3], [1, 2, 3])]
    with torch.inference_mode():
        decoder.add(rows[2:])
        decoder.step()
        decoder.add(rows[:2])
        while len(decoder):
            decoder.step()
    assert [_text(base, r) for r in rows] == expected


def test_rows_admitted_together_prefill_in_length_groups_and_match_the_harness(base):
    """A server admits the requests that arrived during a step together: one long prompt and short
    ones are prefilled in separate passes (no padding of the short ones to its length), merged into
    the running batch with one cache copy, and each row still gets the tokens it gets alone."""
    import torch

    from expertune.llm.decoding import PREFILL_ROWS, PREFILL_TOKENS, StepDecoder, partition

    long = [{"role": "user", "content": "Read this and answer in one word. " + "The offer was made by post. " * 40
             + "Was there a contract?"}]
    convs = [CONVS[0], long, CONVS[2], CONVS[3]]
    expected = [g.text for g in base.generate(convs, GenParams(temperature=0, max_new_tokens=12))]
    rows = [_row(base, c, 12) for c in convs]
    groups = partition([len(r.prompt) for r in rows], 0, max_rows=PREFILL_ROWS, token_budget=PREFILL_TOKENS)
    assert groups[0] == [1] and sorted(i for g in groups[1:] for i in g) == [0, 2, 3]
    decoder = StepDecoder(base.model, pad_id=base.tokenizer.pad_token_id)
    with torch.inference_mode():
        decoder.add(rows[:1])
        decoder.step()
        decoder.add(rows[1:])
        while len(decoder):
            decoder.step()
    assert [_text(base, r) for r in rows] == expected


def test_a_long_prompt_joining_short_rows_goes_first_and_matches_the_harness(base):
    import torch

    from expertune.llm.decoding import StepDecoder

    story = "The buyer inspected the goods on delivery and wrote to the seller the same day. " * 30
    long = [{"role": "user", "content": story + "When did the buyer write?"}]
    convs = [CONVS[0], CONVS[2], long]
    expected = [base.generate([c], GenParams(temperature=0, max_new_tokens=12), min_new_tokens=12)[0].text for c in convs]
    decoder = StepDecoder(base.model, pad_id=base.tokenizer.pad_token_id)
    rows = [_row(base, c, 12, min_new_tokens=12) for c in convs]
    with torch.inference_mode():
        decoder.add(rows[:2])
        for _ in range(3):
            decoder.step()
        decoder.add(rows[2:])
        assert decoder.rows[0] is rows[2]  # longest context first: the rows attend in slices
        while len(decoder):
            decoder.step()
    assert [_text(base, r) for r in rows] == expected
