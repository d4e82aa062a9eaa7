"""Packed fp32 linear layers (llm/packed.py) on the builtin SmolLM2: every nn.Linear is replaced,
and the model's logits stay those of the plain model to fp32 rounding."""

import pytest
from adapter_helpers import BUILTIN

pytestmark = pytest.mark.integration


def test_packed_model_gives_the_plain_models_logits():
    import torch

    from expertune.llm.packed import pack_linears
    from expertune.models import load_model

    plain, packed = load_model(BUILTIN), load_model(BUILTIN)
    linears = sum(type(m) is torch.nn.Linear for m in plain.modules())
    if pack_linears(packed) == 0:
        pytest.skip("this torch has no oneDNN linear operators: nothing is packed")
    assert linears > 0 and not any(type(m) is torch.nn.Linear for m in packed.modules())
    ids = torch.tensor([[1, 504, 3458, 314, 253, 3093, 30], [2, 2, 1, 504, 3458, 314, 30]])
    mask = torch.tensor([[1] * 7, [0, 0] + [1] * 5])
    with torch.inference_mode():
        want = plain(input_ids=ids, attention_mask=mask).logits
        got = packed(input_ids=ids, attention_mask=mask).logits
    assert torch.allclose(got, want, atol=1e-3, rtol=1e-4)
    assert (got[:, -1].argmax(-1) == want[:, -1].argmax(-1)).all()
