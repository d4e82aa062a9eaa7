"""The one registry of curation checks. Every check registers explicitly, with a decorator on its
`run(ctx, cfg) -> CheckResult`:

    @check("duplicates", config=Config, description="exact duplicates after normalisation")
    def run(ctx, cfg): ...

`config` is the pydantic model of its settings (`checks.<name>:` in expertune.yaml). A check with
`uses_model=True` runs a model over every response (minutes on a CPU): it runs only when asked for
(`--only`, `--with-model`, or `enabled: true` in its settings), never by default.

Which checks exist is written down, not discovered: the shipped ones are the modules
curate/checks/__init__.py imports, in the order they run and are reported (cheap structural checks
first, the model-based one last). Another distribution adds its own with an entry point in the
group `expertune.checks` naming a module that registers with `@check` (or a function that does when
called); they run after the shipped ones, in the order they were loaded. `curate.checks.all_checks()`
loads both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from pydantic import BaseModel

ENTRY_POINT_GROUP = "expertune.checks"


@dataclass(frozen=True)
class Check:
    name: str
    config_model: type[BaseModel]
    run: Callable[[Any, BaseModel], Any]  # (curate.runner.CheckContext, its Config) -> CheckResult
    uses_model: bool = False
    description: str = ""


CHECKS: dict[str, Check] = {}  # in registration order, which is the order checks run and are reported


def register_check(entry: Check) -> None:
    """Add a check, or replace one of the same name keeping its place in the order."""
    CHECKS[entry.name] = entry


def check(name: str, *, config: type[BaseModel], uses_model: bool = False, description: str = "") -> Callable:
    """Register the decorated `run(ctx, cfg) -> CheckResult` as the check `name`, its settings
    `checks.<name>` validated by `config`."""

    def decorate(run: Callable[[Any, BaseModel], Any]) -> Callable[[Any, BaseModel], Any]:
        register_check(Check(name, config, run, uses_model, description))
        return run

    return decorate
