"""Curation commands (check, redact, fix, datacard) — being written."""

import typer


def register(app: typer.Typer) -> None:
    pass
