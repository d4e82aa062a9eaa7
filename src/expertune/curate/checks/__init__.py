"""The checks, one module each. Every module has NAME, a pydantic `Config` with its thresholds and
`run(ctx, cfg) -> CheckResult`. A module with `USES_MODEL = True` runs a model over every response
(minutes on a CPU): it runs only when asked for (`--only`, `--with-model`, or `enabled: true` in its
settings), never by default."""

from expertune.curate.checks import (
    artefacts,
    balance,
    confidence,
    contamination,
    diversity,
    duplicates,
    language,
    leakage,
    length,
    near_duplicates,
    pii,
)

# The standard order: cheap structural checks first, the model-based one last.
MODULES = {
    m.NAME: m
    for m in (duplicates, near_duplicates, leakage, contamination, artefacts, length, language, pii, balance,
              diversity, confidence)
}
CHECK_NAMES = tuple(MODULES)
MODEL_CHECKS = tuple(name for name, m in MODULES.items() if getattr(m, "USES_MODEL", False))
