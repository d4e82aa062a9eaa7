"""The shipped checks, one module each; each registers its `run` with `@check` (curate/registry.py).

The order of this import is the order the checks run and are reported: cheap structural checks
first, the model-based one last. Checks of other distributions come from the `expertune.checks`
entry points (`curate.registry.all_checks`).
"""

from expertune.curate.checks import (  # noqa: I001 - the order is the checks' order
    duplicates,
    near_duplicates,
    leakage,
    contamination,
    artefacts,
    length,
    language,
    pii,
    balance,
    diversity,
    confidence,
)

__all__ = ["artefacts", "balance", "confidence", "contamination", "diversity", "duplicates", "language", "leakage",
           "length", "near_duplicates", "pii"]
