"""Keeping the libraries quiet: their deprecation notices, warnings, log chatter and progress bars
are for their maintainers, not for expertune's users, and would interleave with expertune's own
output. `quiet_warnings` imports nothing heavy (the CLI calls it at start-up);
`quiet_model_libraries` also silences the model stack, importing it (loading, training)."""

from __future__ import annotations

import logging
import os
import warnings

# Libraries whose warnings and log chatter are for their maintainers (and ours), not for users.
LIBRARIES = ("transformers", "torch", "peft", "trl", "accelerate", "datasets", "huggingface_hub", "tokenizers",
             "gguf", "sklearn", "statsmodels", "scipy", "numpy", "matplotlib", "sqlalchemy", "alembic")


def quiet_warnings() -> None:
    """Hide deprecation notices and warnings raised inside the libraries expertune runs on.

    A deprecation is attributed to whichever frame its `stacklevel` points at — often our own
    call site — so they are filtered by category, not by module. Other warnings (ours) stay
    visible. Environment defaults reach libraries imported later and worker subprocesses;
    a user who sets TRANSFORMERS_VERBOSITY or PYTHONWARNINGS keeps their choice.
    """
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", module=rf"({'|'.join(LIBRARIES)})(\.|$)")
    for name in ("TRANSFORMERS_VERBOSITY", "DATASETS_VERBOSITY", "HF_HUB_VERBOSITY"):
        os.environ.setdefault(name, "error")
    os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning,ignore::FutureWarning")
    for name in LIBRARIES:  # libraries already imported have read their verbosity already
        logging.getLogger(name).setLevel(logging.ERROR)


def quiet_model_libraries() -> None:
    """Turn off the progress bars and info logs of huggingface_hub, transformers and datasets
    (expertune shows its own progress; theirs would interleave with it). Imports them. Unlike
    `quiet_warnings` it leaves the caller's warning filters alone, apart from the model libraries'
    own FutureWarnings: library users (notebooks, tests) keep seeing everything else."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|trl|peft)\.")
    import datasets
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
