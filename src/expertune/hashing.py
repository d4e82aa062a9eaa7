"""The sha256 of a file, the identity of imported files, eval sets, GGUF sources and weights."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from expertune.atomic import write_atomic


def file_sha256(path: Path, *, memo: Path | None = None) -> str:
    """sha256 of the file's bytes, read in 4 MiB blocks.

    With `memo` (a JSON file), digests are remembered by (path, size, mtime) so a warm load of
    gigabytes of weights does not re-read them; a changed file has a new key and is hashed again.
    """
    key = None
    known: dict[str, str] = {}
    if memo is not None:
        stat = path.stat()
        key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        try:
            known = json.loads(memo.read_text())
        except (OSError, ValueError):
            known = {}
        if key in known:
            return known[key]
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    digest = h.hexdigest()
    if memo is not None:
        known[key] = digest
        memo.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(memo, json.dumps(known))
    return digest
