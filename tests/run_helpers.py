"""Run records for tests: the run.json of an SFT run as the code before typed records wrote it."""

from __future__ import annotations

import shutil
from pathlib import Path

from expertune.records import SftRun, read_run

OLD_RUN = Path(__file__).parent / "fixtures" / "run_records" / "old-sft-run"  # no schema_version, kind, device.parameters


def sft_run(**changes) -> SftRun:
    """A valid SFT run record (adapter "legal", system prompt dropped), with `changes` applied."""
    return read_run(OLD_RUN).updated(**changes)


def copy_old_run(runs_dir: Path) -> Path:
    """The old-shape run folder copied into `runs_dir`; returns the copy."""
    return Path(shutil.copytree(OLD_RUN, runs_dir / OLD_RUN.name))
