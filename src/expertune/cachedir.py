"""expertune's cache folder: $EXPERTUNE_CACHE, else ~/.cache/expertune. What is in it can be rebuilt."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("EXPERTUNE_CACHE", Path.home() / ".cache" / "expertune"))
