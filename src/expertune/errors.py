"""User-facing errors. The CLI prints them without a traceback and exits 2.

Paths the user names (an output file, a text file to read) fail in the operating system's words
("[Errno 21] Is a directory"); `user_path_errors` turns such a failure into one message that names
the option, the path and what to do, so every command reports them the same way.
"""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


class ExpertuneError(Exception):
    """An error the user can fix; the message names what is wrong and how to fix it."""

    exit_code = 2


class WorkspaceNotFound(ExpertuneError):
    pass


class ConfigError(ExpertuneError):
    pass


class InputError(ExpertuneError):
    """Bad input data (a file, a line, a field)."""


class StaleEditError(ExpertuneError):
    """An update was based on an older version of a record than the one stored."""


class NotFound(ExpertuneError):
    pass


class StoreBusy(ExpertuneError):
    """Another writer held the store longer than this command was willing to wait (SQLite or
    PostgreSQL); nothing was written."""


class StoreError(ExpertuneError):
    """The workspace's database is missing, empty or unreadable."""


_WHY = {
    errno.ENOENT: "no such file or folder (check the path; create the folder first)",
    errno.EISDIR: "is a folder, not a file; name a file (inside it, or elsewhere)",
    errno.ENOTDIR: "a part of this path is a file, not a folder",
    errno.EEXIST: "is a file, not a folder",  # mkdir(exist_ok=True) fails so only on a file
    errno.EACCES: "permission denied; choose a place you may write to, or change its permissions",
    errno.EPERM: "permission denied; choose a place you may write to, or change its permissions",
    errno.EROFS: "the file system is read-only; choose another place",
    errno.ENOSPC: "no space left on the device; free some space or choose another place",
}


def _related(filename: str | os.PathLike, path: Path) -> bool:
    """Is `filename` the path, a folder above it, or something next to or inside it (plots beside
    a data card, files inside an export folder)?"""
    failed, path = Path(os.path.abspath(filename)), Path(os.path.abspath(path))
    return failed in (path, *path.parents) or path.parent in failed.parents


def describe_os_error(err: OSError, option: str | None = None) -> str:
    where = f"{option} {err.filename}" if option else str(err.filename)
    return f"{where}: {_WHY.get(err.errno, err.strerror or str(err))}"


@contextmanager
def user_path_errors(option: str | None, *paths: Path | None) -> Iterator[None]:
    """Inside the block, an OSError about one of `paths` becomes an InputError naming `option`,
    the path and the fix. Errors about other files pass through unchanged: they are not the user's."""
    try:
        yield
    except OSError as err:
        if err.filename is None or not any(p is not None and _related(err.filename, p) for p in paths):
            raise
        raise InputError(describe_os_error(err, option)) from None


def read_user_text(path: Path, option: str) -> str:
    """The UTF-8 text of a file the user named, or an InputError saying why it cannot be read."""
    with user_path_errors(option, path):
        data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{option} {path}: not UTF-8 text (byte {err.start}); re-save it as UTF-8") from None


def require_input_file(path: Path) -> Path:
    """`path` when it is a file; else an InputError saying what it is instead."""
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file; name the files in it (e.g. {path / '*.jsonl'})")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return path


def prepare_output_file(path: Path, option: str) -> Path:
    """Make sure `path` can become an output file before the work that produces it starts: not a
    folder, its folder created. A bad path then fails in seconds, not after a long check run."""
    with user_path_errors(option, path):
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
    return path
