"""Plugins from other distributions: entry points that register tasks, checks or judge kinds.

A distribution adds to expertune by naming, in an entry-point group (`expertune.tasks`,
`expertune.checks`, `expertune.judges`), a module that registers with the group's decorator when
imported, or a function that does when called. `load_entry_points(group)` loads them, each once.
"""

from __future__ import annotations

import warnings
from importlib import metadata
from types import ModuleType

_loaded: set[str] = set()  # "group:name=value" of every entry point loaded (or tried) so far


def load_entry_points(group: str) -> list[str]:
    """Load the installed distributions' entry points of `group` (each once): a module registers
    when imported, a callable when called. A plugin that fails to load is skipped with a warning
    naming it, so it cannot break the runs that do not use it (a config naming what it would have
    registered then names an unknown one). Returns the names loaded by this call."""
    loaded = []
    for ep in metadata.entry_points(group=group):
        ident = f"{group}:{ep.name}={ep.value}"
        if ident in _loaded:
            continue
        _loaded.add(ident)
        try:
            obj = ep.load()
            if callable(obj) and not isinstance(obj, ModuleType):
                obj()
        except Exception as err:  # noqa: BLE001 - a third-party plugin may fail in any way
            warnings.warn(f"expertune plugin {ep.name!r} ({ep.value}) failed to load: {type(err).__name__}: {err}",
                          RuntimeWarning, stacklevel=2)
            continue
        loaded.append(ep.name)
    return loaded
