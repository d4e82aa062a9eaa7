"""Linear layers whose fp32 weights are packed once into oneDNN's blocked layout, for inference on
a CPU.

A decode step multiplies a few rows by every weight matrix of the model. With the weights in
their plain layout, the BLAS packs each matrix again on every call, so on a 2-core CPU a step of
32 rows of the 135M builtin model spent most of its time re-reading weights (the matrix products
ran at ~35 GFLOP/s). Packed once at load, the same 32-token generation bench ran its decode steps
in ~60% of the time (median 235-259 ms vs 407-443 ms a step, interleaved runs), with prefill
(large products) unchanged. The packed layout replaces the plain weight (no second copy); a
tied output head gets its own packed copy, the input embeddings keep theirs.

Uses the oneDNN operators torch's own CPU compiler (inductor) emits for frozen linear layers; where
they are missing (a torch built without oneDNN) nothing is packed.
"""

from __future__ import annotations


def _ops():
    import torch

    if not torch.backends.mkldnn.is_available():
        return None
    try:
        return torch.ops.mkldnn._reorder_linear_weight, torch.ops.mkldnn._linear_pointwise
    except (AttributeError, RuntimeError):
        return None


def _packed_linear_class():
    import torch

    class PackedLinear(torch.nn.Module):
        """nn.Linear's forward on a weight packed by `_reorder_linear_weight` (inference only)."""

        def __init__(self, linear: torch.nn.Linear, reorder, product):
            super().__init__()
            self.in_features, self.out_features = linear.in_features, linear.out_features
            self.product = product
            self.register_buffer("packed", reorder(linear.weight.detach()), persistent=False)
            bias = None if linear.bias is None else linear.bias.detach()
            self.register_buffer("bias", bias, persistent=False)

        def forward(self, x):
            return self.product(x, self.packed, self.bias, "none", [], "")

        def extra_repr(self) -> str:
            return f"in_features={self.in_features}, out_features={self.out_features}, packed"

    return PackedLinear


def pack_linears(model) -> int:
    """Replace every fp32 nn.Linear of a CPU model by its packed form; how many were replaced (0
    where oneDNN's operators are missing). The model is for inference from then on."""
    import torch

    ops = _ops()
    if ops is None:
        return 0
    packed_class = _packed_linear_class()
    replaced = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if type(child) is torch.nn.Linear and child.weight.dtype == torch.float32 and child.weight.device.type == "cpu":
                setattr(module, name, packed_class(child, *ops))
                replaced += 1
    return replaced
