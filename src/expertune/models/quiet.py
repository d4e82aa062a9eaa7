"""Quieting the model libraries: expertune shows its own progress; the libraries' bars and info
logs would interleave with it. Its own module, so that resolving (GGUF conversion) and loading
both use it without importing each other."""

from __future__ import annotations

import os
import warnings


def quiet_libraries() -> None:
    """Turn off the progress bars and info logs of huggingface_hub, transformers and datasets."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|trl|peft)\.")
    import datasets
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
