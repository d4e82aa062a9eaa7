"""The KV cache across transformers versions: which caches can be merged, sliced and given a
custom mask (plain full-attention layers only), the keyword a forward takes its cache by, and
where an output carries it. Decoding (llm/decoding.py) and scoring (llm/scoring.py) share these."""

from __future__ import annotations


def plain_cache(cache) -> bool:
    """Whether a cache is made of plain full-attention layers only, the kind a custom mask over
    its whole length is sound for (no sliding windows, quantised or linear-attention layers)."""
    from transformers import DynamicCache

    if type(cache) is not DynamicCache:
        return False
    if hasattr(cache, "layers"):  # transformers >= 4.56: one layer object each
        from transformers.cache_utils import DynamicLayer

        return bool(cache.layers) and all(type(layer) is DynamicLayer and layer.is_initialized for layer in cache.layers)
    return bool(getattr(cache, "key_cache", None))  # earlier: parallel lists of tensors


def cache_keyword(forward) -> str:
    """The name a forward takes its cache by: `cache` since transformers 5.x, `past_key_values` before."""
    import inspect

    try:
        return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"
    except (TypeError, ValueError):
        return "past_key_values"


def output_cache(output):
    cache = getattr(output, "cache", None)
    return cache if cache is not None else getattr(output, "past_key_values", None)
