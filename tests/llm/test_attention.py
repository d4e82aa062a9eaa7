"""Decode-step attention over each row's own columns: the slicing of a left-padded batch (every
row's columns inside its slice, few slices), and on the builtin SmolLM2 a batch mixing a long
prompt with short ones decodes exactly as each prompt alone, attending in more than one slice."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from expertune.llm.attention import SLICE_COST, row_slices


@given(st.lists(st.integers(min_value=1, max_value=2000), min_size=1, max_size=40), st.integers(min_value=0, max_value=50))
def test_slices_cover_every_row_and_all_its_columns(spans, extra_width):
    width = max(spans) + extra_width  # columns before the longest row: padding every row left
    slices = row_slices(spans, width)
    assert slices[0][0] == 0 and slices[-1][1] == len(spans)
    for (_, end, _), (start, _, _) in zip(slices, slices[1:]):
        assert end == start  # contiguous, in order
    for start, end, first in slices:
        assert start < end and 0 <= first
        assert all(first <= width - spans[row] for row in range(start, end))  # no row loses a column
        assert first == width - max(spans[start:end])  # and the slice reads no column no row uses


def test_a_long_prompt_gets_its_own_slice_similar_ones_share_one():
    assert row_slices([400, 60, 58, 55], 400) == [(0, 1, 0), (1, 4, 340)]
    assert row_slices([60, 58, 55], 60) == [(0, 3, 0)]
    # a split must save more columns than a slice costs
    assert len(row_slices([100, 100 - SLICE_COST // 4], 100)) == 1


@pytest.mark.integration
def test_long_and_short_prompts_in_one_batch_decode_as_each_alone(monkeypatch):
    import expertune.llm.decoding as decoding
    from adapter_helpers import BUILTIN
    from expertune.llm.base import GenParams
    from expertune.llm.local import LocalChatModel

    model = LocalChatModel(BUILTIN, precision="fp32")  # exact tokens compared: fp32
    story = "The tenant paid the rent late every month, and the landlord kept a careful record. " * 30
    convs = [[{"role": "user", "content": "Say hi."}],
             [{"role": "user", "content": story + "Who kept the record?"}],
             [{"role": "user", "content": "Name a fruit."}]]
    seen = []

    def recording(spans, width):
        seen.append(row_slices(spans, width))
        return seen[-1]

    monkeypatch.setattr(decoding, "row_slices", recording)
    params = GenParams(temperature=0, max_new_tokens=10)
    together = model.generate(convs, params, min_new_tokens=10)
    alone = [model.generate([c], params, min_new_tokens=10)[0] for c in convs]
    assert [g.text for g in together] == [g.text for g in alone]
    assert max(len(s) for s in seen) >= 2  # the batch really attended in slices
