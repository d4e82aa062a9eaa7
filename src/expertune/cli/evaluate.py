"""Evaluation commands (eval run|generate|judge|stats, report) — being written."""

import typer


def register(app: typer.Typer) -> None:
    pass
