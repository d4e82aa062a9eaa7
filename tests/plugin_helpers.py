"""A tiny installed distribution for the plugin tests: its modules and a .dist-info with
entry_points.txt on sys.path, found by importlib.metadata like any pip-installed one."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path


def install_distribution(folder: Path, monkeypatch, name: str, entry_points: dict[str, str], modules: dict[str, str],
                         group: str = "expertune.tasks") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (folder / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = folder / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()),
                                           encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder))
    for module in modules:
        monkeypatch.delitem(sys.modules, module, raising=False)
