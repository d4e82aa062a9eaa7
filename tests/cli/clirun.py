"""Running the real entry point (`expertune.cli.app.main`) in-process, as a user's shell would.

`main` is what the `expertune` script calls: it prints `ExpertuneError`s and exits 2. Anything else
escaping it is what a user sees as a traceback, so the helper lets it propagate and fail the test.
"""

from __future__ import annotations

import io
import signal
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.engine import Engine

from expertune.cli.app import main

# A guard, not a timing assertion: a command that serves until stopped (a server, a watcher)
# would hang the suite; it fails loudly instead, naming the command.
HANG_SECONDS = 120


@dataclass
class Result:
    code: int
    out: str
    err: str


class CommandHung(Exception):
    pass


def cli(*args: object) -> Result:
    out, err = io.StringIO(), io.StringIO()

    def hung(signum, frame):
        raise CommandHung(f"`expertune {' '.join(map(str, args))}` ran for {HANG_SECONDS} s; give it arguments that finish")

    engines: set[Engine] = set()

    def opened(connection, *_):
        engines.add(connection.engine)

    event.listen(Engine, "engine_connect", opened)
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(HANG_SECONDS)
    try:
        # sys.argv as the `expertune` script would see it (and as main() reads it by default)
        argv, sys.argv = sys.argv, ["expertune", *map(str, args)]
        try:
            with redirect_stdout(out), redirect_stderr(err):
                main()
        finally:
            sys.argv = argv
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    else:
        code = 0
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        event.remove(Engine, "engine_connect", opened)
        # A process exit closes the store's connections (and checkpoints SQLite's WAL); do it now,
        # not whenever the garbage collector gets to it, so the next step sees the files as a user
        # would. (A full gc.collect() here did the same at ~0.1-0.5 s a command.)
        for engine in engines:
            engine.dispose()
    return Result(code, out.getvalue(), err.getvalue())
