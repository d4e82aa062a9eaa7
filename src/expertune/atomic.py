"""Writing a file so that a crash never leaves half of it under its final name.

The text goes to `NAME.tmp` beside the file and is renamed over it when complete. A failure names
the file the user asked for, never the temporary one.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


@contextmanager
def atomic_open(path: Path, *, encoding: str = "utf-8") -> Iterator[IO[str]]:
    """A text file to write; it replaces `path` when the block ends without an error."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        handle = tmp.open("w", encoding=encoding)
    except OSError as err:
        raise _about(err, path) from None
    try:
        with handle:
            yield handle
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise _about(err, path) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    with atomic_open(path, encoding=encoding) as handle:
        handle.write(text)
    return Path(path)


def _about(err: OSError, path: Path) -> OSError:
    """The same error, naming the file the user asked for."""
    return type(err)(err.errno, err.strerror, str(path))
