"""Adapter versions share the base's weights: only the LoRA-merged matrices are new, the merge is
the one evaluation loads (bit for bit), and the base itself is left untouched."""

from __future__ import annotations

import pytest
from adapter_helpers import BUILTIN, make_adapter

pytestmark = pytest.mark.integration


def test_lora_on_shared_base_equals_evaluations_merge_and_shares_the_rest(tmp_path):
    import torch

    from expertune.llm.adapters import read_adapter
    from expertune.llm.local import LocalChatModel
    from expertune.serve.models import load_adapter, load_base

    folder = make_adapter(tmp_path / "tiny", seed=3)
    base = load_base(BUILTIN)
    before = {k: v.clone() for k, v in base.model.state_dict().items()}
    variant = load_adapter(base, read_adapter(folder))
    reference = LocalChatModel(BUILTIN, str(folder), packed=False).model.state_dict()  # evaluation's merge, weights unpacked

    ours, base_state = variant.model.state_dict(), base.model.state_dict()
    assert ours.keys() == reference.keys()
    own = []
    for key, tensor in ours.items():
        assert torch.equal(tensor, reference[key]), key
        assert torch.equal(base_state[key], before[key]), key  # the base was not merged into
        if tensor.data_ptr() != base_state[key].data_ptr():
            own.append(key)
    assert own and all(k.endswith(("q_proj.weight", "v_proj.weight")) for k in own)
    assert not torch.equal(ours[own[0]], base_state[own[0]])  # the adapter did change them
    assert variant.label == "tiny@1" and variant.chat.render([{"role": "user", "content": "x"}])
