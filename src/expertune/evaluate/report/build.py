"""The evaluation report: one self-contained HTML file (inline CSS, plots as inline PNG).

The report is the registered sections (evaluate/registry.py) in their order: the built-in ones of
report/sections.py, the human judgments (report/human.py) and each task's results (registered in
the task's module, evaluate/tasks/). A section that fails to build shows its error and does not hide
the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from expertune.atomic import write_atomic
from expertune.evaluate.pairwise.analysis import load_run_data, summarize
from expertune.evaluate.registry import ordered_sections
from expertune.evaluate.report import human  # noqa: F401 - registers the section of human judgments
from expertune.evaluate.report.html import esc
from expertune.evaluate.report.sections import ReportContext
from expertune.evaluate.summary import parse_run_summary, run_summary
from expertune.evaluate.tasks import all_tasks
from expertune.workspace import Workspace

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:1.5em;color:#222}
h1{font-size:1.5em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}h3{font-size:1.05em;margin-top:1.4em}
table{border-collapse:collapse;margin:.5em 0;font-size:13px}td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f3f3f3}tr:nth-child(even) td{background:#fafafa}.note{color:#555;font-size:12.5px}
pre{white-space:pre-wrap;word-wrap:break-word;background:#f7f7f7;padding:.5em;margin:.2em 0;font-size:12.5px}
details{border:1px solid #ddd;border-radius:4px;margin:.4em 0;padding:.3em .6em}summary{cursor:pointer}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:.8em}.reason{color:#555}.error{color:#b00}img{max-width:100%}
nav a{margin-right:.8em}
"""


def build_report(ws: Workspace, run_ref: int | str, *, samples: int = 30) -> tuple[str, dict[str, Any]]:
    """The report's HTML and the summary it was built from (a RunSummary, under "summary")."""
    all_tasks()  # the tasks' result sections, including those of entry-point plugins
    data = load_run_data(ws, run_ref)
    summary = (run_summary(ws, run_ref) if (Path(data.run.folder) / "tasks").is_dir()
               else parse_run_summary(summarize(data), f"eval run {data.run.id}: summary"))
    ctx = ReportContext(ws, data.run, data, summary, {"samples": samples})
    body, nav, built, errors = [], [], [], {}
    for section in ordered_sections():
        try:
            fragment = section.builder(ctx)
        except Exception as err:  # noqa: BLE001 - one broken section must not hide the others
            errors[section.key] = f"{type(err).__name__}: {err}"
            fragment = f"<p class=error>This section failed to build: {esc(errors[section.key])}</p>"
        if fragment:
            built.append(section.key)
            nav.append(f'<a href="#{esc(section.key)}">{esc(section.title)}</a>')
            body.append(f'<section id="{esc(section.key)}"><h2>{esc(section.title)}</h2>{fragment}</section>')
    title = f"expertune evaluation eval-{data.run.id}" + (f" · {data.run.name}" if data.run.name else "")
    page = (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{esc(title)}</title><style>{CSS}</style></head>"
            f"<body><h1>{esc(title)}</h1><nav>{''.join(nav)}</nav>{''.join(body)}</body></html>")
    return page, {"sections": built, "section_errors": errors, "summary": summary}


def write_report(ws: Workspace, run_ref: int | str, out: Path | None = None, *, samples: int = 30) -> dict[str, Any]:
    page, meta = build_report(ws, run_ref, samples=samples)
    path = out or Path(meta["summary"].run.folder) / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, page)
    return {"path": str(path), "bytes": len(page.encode("utf-8")), **meta}
