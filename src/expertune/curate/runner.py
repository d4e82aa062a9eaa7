"""Running checks: one context (data, config, base model) shared by every check of a run."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable

from expertune.curate.checks import all_checks, check_names, model_checks
from expertune.curate.config import ChecksConfig, load_checks_config
from expertune.curate.dataset import CurationData, load_data
from expertune.curate.findings import CheckReport
from expertune.errors import InputError
from expertune.workspace import Workspace

Progress = Callable[[str, int, int], None]


@dataclass
class CheckContext:
    ws: Workspace
    data: CurationData
    config: ChecksConfig
    base_model: str
    max_length: int | None = None  # overrides checks.length.max_length (the trainer passes its own)
    progress: Progress | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    def tokenizer(self):
        return cached_tokenizer(self.base_model)

    def report_progress(self, what: str, done: int, total: int) -> None:
        if self.progress:
            self.progress(what, done, total)


@lru_cache(maxsize=4)
def cached_tokenizer(name: str):
    # Loading a tokenizer takes about a second; a process (tests, the trainer) loads it once.
    from expertune.models import load_tokenizer

    return load_tokenizer(name)


def parse_check_names(names: Iterable[str] | str | None, *, option: str = "--only") -> list[str]:
    """Validate check names (a list, or "a,b,c"); None means all checks, in the standard order."""
    known = check_names()
    if names is None:
        return list(known)
    if isinstance(names, str):
        names = names.split(",")
    wanted = [n.strip() for n in names if n and n.strip()]
    if not wanted:  # "--only ," would otherwise run nothing and report success
        raise InputError(f"{option}: no check named; known checks: {', '.join(known)}")
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise InputError(f"{option} {','.join(unknown)}: unknown check; known checks: {', '.join(known)}")
    return [n for n in known if n in wanted]


def checks_to_run(config: ChecksConfig, only: Iterable[str] | str | None = None, *, with_model: bool = False) -> list[str]:
    """The checks a run does: the named ones (`--only`), else every check but the model-based ones,
    which are added by `with_model` or by `enabled: true` in their settings."""
    if only is not None:
        return parse_check_names(only)
    using_model = model_checks()
    return [n for n in check_names() if n not in using_model or with_model or config.for_check(n).enabled]


def run_checks(
    ws: Workspace,
    *,
    only: Iterable[str] | str | None = None,
    with_model: bool = False,
    dataset_version: str | None = None,
    max_length: int | None = None,
    base_model: str | None = None,
    progress: Progress | None = None,
    data: CurationData | None = None,
    config: ChecksConfig | None = None,
) -> CheckReport:
    """Run the named checks (default: all but the model-based ones, see `checks_to_run`) over
    accepted responses or a dataset version. The report's source lists the model-based checks
    left out ("not_run")."""
    config = config or load_checks_config(ws)
    names = checks_to_run(config, only, with_model=with_model)
    if max_length is not None and max_length < 1:
        raise InputError(f"--max-length {max_length}: must be a positive number of tokens")
    data = data or load_data(ws, dataset_version)
    ctx = CheckContext(ws, data, config, base_model or ws.settings.base_model, max_length, progress)
    checks = all_checks()
    results = []
    for name in names:
        start = time.perf_counter()
        result = checks[name].run(ctx, config.for_check(name))
        result.seconds = time.perf_counter() - start
        results.append(result)
    source = {**data.source, "responses": len(data.items), "groups": len(data.groups), "base_model": ctx.base_model,
              "not_run": [n for n in model_checks() if n not in names] if only is None else []}
    return CheckReport(results, source, data)
