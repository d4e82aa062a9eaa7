"""The shipped checks, one module each; each registers its `run` with `@check` (curate/registry.py).

The order of this import is the order the checks run and are reported: cheap structural checks
first, the model-based one last. Checks of other distributions come from the `expertune.checks`
entry points, loaded by `all_checks()`.
"""

from expertune import plugins
from expertune.curate import registry
from expertune.curate.checks import (  # noqa: F401, I001 - registers the shipped checks; the order is theirs
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


def all_checks() -> dict[str, registry.Check]:
    """Every check, in the standard order: the shipped ones, then those of installed plugins
    (loaded once; one that fails to load is skipped with a warning)."""
    plugins.load_entry_points(registry.ENTRY_POINT_GROUP)
    return registry.CHECKS


def check_names() -> tuple[str, ...]:
    """All check names, in the standard order."""
    return tuple(all_checks())


def model_checks() -> tuple[str, ...]:
    """The checks that run a model, and so run only when asked for."""
    return tuple(name for name, c in all_checks().items() if c.uses_model)
