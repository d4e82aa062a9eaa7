"""A datasheet for the dataset (Markdown with PNG plots next to it): purpose, composition,
collection, preprocessing, splits, check results, known limitations, licence.

Every number comes from the store (or the dataset version) and from a run of the gate checks.
Plots are drawn with matplotlib's Agg canvas directly, without pyplot's global state.

User text (topics, names, file names, reasons, the licence) is data: in the Markdown it is escaped
so that a `<script>` or a `[link](...)` in a topic shows as written (as the HTML reports do), and in
the plots a `$` is not read as matplotlib's math markup.
"""

from __future__ import annotations

import html
import re
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from expertune.curate.dataset import CurationData, load_data
from expertune.curate.edits import ARTEFACT_FIX, REDACTION
from expertune.curate.findings import CheckReport
from expertune.curate.gate import gate_checks
from expertune.curate.runner import run_checks
from expertune.store.tables import ImportBatch, Revision
from expertune.workspace import Workspace


_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]|~#])")


def md(value: Any) -> str:
    """`value` as literal Markdown text: punctuation backslash-escaped, `<`, `>`, `&` as HTML
    entities (a raw `<script>` is HTML to most renderers), one line."""
    text = " ".join(str(value).splitlines())
    return html.escape(_MARKDOWN_PUNCTUATION.sub(r"\\\1", text), quote=False)


def _plot_label(value: Any) -> str:
    return str(value).replace("$", r"\$")  # "$...$" is math markup to matplotlib; it can fail to parse


def _plot(path: Path, kind: str, x, y=None, *, title: str, xlabel: str, ylabel: str) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if kind == "bar":
        ax.bar([_plot_label(v) for v in x], y, color="#1565c0")
        if len(x) > 4:
            ax.tick_params(axis="x", labelrotation=30)
            for label in ax.get_xticklabels():
                label.set_horizontalalignment("right")
    else:
        ax.hist(x, bins=min(40, max(5, len(x) // 3)), color="#1565c0")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    fig.savefig(path)
    return path.name


def _pct(values: list[int]) -> str:
    a = np.asarray(values)
    return f"min {a.min()}, median {np.median(a):.0f}, p90 {np.percentile(a, 90):.0f}, max {a.max()}"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _collection(ws: Workspace) -> tuple[list[list[Any]], dict[str, Any]]:
    with ws.session() as s:
        batches = s.execute(select(ImportBatch.source_path, ImportBatch.format, ImportBatch.created_at, ImportBatch.counts)
                            .order_by(ImportBatch.id)).all()
        revisions = s.execute(select(Revision.reason, Revision.entity, Revision.entity_id, Revision.note)).all()
    rows = [[Path(p).name, fmt, f"{when:%Y-%m-%d}", c.get("imported_responses", ""), c.get("duplicates", ""), c.get("rejected", "")]
            for p, fmt, when, c in batches]
    by_reason: dict[str, set] = defaultdict(set)
    items: Counter[str] = Counter()
    for reason, entity, eid, note in revisions:
        by_reason[reason].add((entity, eid))
        if reason == REDACTION and note:
            for kind, n in re.findall(r"([A-Z_]+)=(\d+)", note):
                items[kind] += int(n)
    return rows, {"records_by_reason": {r: len(v) for r, v in sorted(by_reason.items())}, "redacted_items": dict(items)}


def build_datacard(ws: Workspace, out: Path, *, dataset_version: str | None = None, licence: str = "unspecified",
                   report: CheckReport | None = None, run_gate_checks: bool = True) -> dict[str, Any]:
    """Write the data card to `out` (and its plots next to it); returns the numbers it shows."""
    data = load_data(ws, dataset_version)
    if report is None and run_gate_checks:
        report = run_checks(ws, only=gate_checks(), data=data)
    out.parent.mkdir(parents=True, exist_ok=True)
    stem = out.stem
    numbers = _composition(data)
    sources, prep = _collection(ws)
    plots = {
        "topics": _plot(out.parent / f"{stem}_topics.png", "bar", list(numbers["topics"]),
                        [v["responses"] for v in numbers["topics"].values()],
                        title="Responses per topic", xlabel="topic", ylabel="responses"),
        "lengths": _plot(out.parent / f"{stem}_lengths.png", "hist", numbers["response_words"],
                         title="Response length", xlabel="words", ylabel="responses"),
        "per_prompt": _plot(out.parent / f"{stem}_responses_per_prompt.png", "bar", list(numbers["responses_per_prompt"]),
                            list(numbers["responses_per_prompt"].values()),
                            title="Responses per prompt", xlabel="accepted responses in the group", ylabel="prompt groups"),
    }
    text = _markdown(ws, data, numbers, sources, prep, report, plots, licence)
    out.write_text(text, encoding="utf-8")
    return {"path": str(out), "plots": [str(out.parent / p) for p in plots.values()], "licence": licence,
            "source": data.source, "responses": len(data.items), "groups": len(data.groups),
            "preprocessing": prep, "checks": report.counts() if report else None}


def _composition(data: CurationData) -> dict[str, Any]:
    topics: dict[str, dict[str, int]] = defaultdict(lambda: {"groups": 0, "responses": 0})
    for g in data.groups:
        topics[g.topic or "(no topic)"]["groups"] += 1
    per_group = Counter(it.group for it in data.items)
    for it in data.items:
        topics[data.groups[it.group].topic or "(no topic)"]["responses"] += 1
    splits: dict[str, dict[str, int]] = defaultdict(lambda: {"groups": 0, "responses": 0})
    for gi, g in enumerate(data.groups):
        splits[g.split or "unassigned"]["groups"] += 1
        splits[g.split or "unassigned"]["responses"] += per_group[gi]
    rpp = Counter(per_group.values())
    return {
        "topics": dict(sorted(topics.items())),
        "splits": dict(splits),
        "responses_per_prompt": {k: rpp[k] for k in sorted(rpp)},
        "response_words": [len(it.text.split()) for it in data.items],
        "prompt_words": [len(g.prompt.split()) for g in data.groups],
        "multi_turn": sum(1 for g in data.groups if g.context),
        "system_prompts": len({g.system for g in data.groups if g.system}),
        "authors": Counter((it.author_kind, it.author or "(unnamed)") for it in data.items),
    }


def _markdown(ws, data, n, sources, prep, report, plots, licence) -> str:
    topics = n["topics"]
    total = len(data.items)
    src = data.source
    where = (f"dataset version {src['id']} (`{src['hash'][:12]}`{', ' + md(src['name']) if src.get('name') else ''})"
             if src["kind"] == "dataset_version" else "the accepted responses in the store")
    model_share = sum(c for (kind, _), c in n["authors"].items() if kind == "model") / total
    out = [
        f"# Data card: {md(ws.settings.name)}",
        "",
        f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} by expertune from {where}.",
        "",
        "## Purpose",
        "",
        f"Supervised fine-tuning data for a specialised assistant on {', '.join(md(t) for t in topics)}: prompts "
        f"written or directed by domain experts, each with several accepted answers, to adapt the base model "
        f"{md(ws.settings.base_model)} to the domain's content and voice. Held-out splits serve evaluation.",
        "",
        "## Composition",
        "",
        f"- {total} accepted responses in {len(data.groups)} prompt groups; {n['multi_turn']} groups carry earlier "
        f"turns; {n['system_prompts']} distinct system prompt(s); languages expected: {md(', '.join(ws.settings.languages))}.",
        "- Responses per prompt: " + ", ".join(f"{k}: {v} groups" for k, v in n["responses_per_prompt"].items()) + ".",
        f"- Response length in words: {_pct(n['response_words'])}; prompt length in words: {_pct(n['prompt_words'])}.",
        "",
        _table(["topic", "prompt groups", "responses"], [[t, v["groups"], v["responses"]] for t, v in topics.items()]),
        "",
        f"![Responses per topic]({plots['topics']})",
        f"![Response length]({plots['lengths']})",
        f"![Responses per prompt]({plots['per_prompt']})",
        "",
        "## Collection",
        "",
        _table(["source file", "format", "imported", "responses", "duplicates skipped", "rejected"], sources)
        if sources else "No import batches recorded.",
        "",
        "Authors of the responses (human experts, or the model used while authoring):",
        "",
        _table(["kind", "author", "responses"], [[k, a, c] for (k, a), c in n["authors"].most_common(15)]),
        "",
        "## Preprocessing",
        "",
        "- On import: whitespace-normalised prompts define prompt groups; byte-identical answers to the same prompt were skipped.",
    ]
    reasons = prep["records_by_reason"]
    out.append(f"- Redaction of personal data: {reasons.get(REDACTION, 0)} records"
               + (f" ({', '.join(f'{k} {v}' for k, v in sorted(prep['redacted_items'].items()))} replaced by typed placeholders)"
                  if prep["redacted_items"] else "") + ".")
    out.append(f"- Chat-export artefacts removed: {reasons.get(ARTEFACT_FIX, 0)} records.")
    others = {r: c for r, c in reasons.items() if r not in (REDACTION, ARTEFACT_FIX)}
    if others:
        out.append("- Other revisions: " + ", ".join(f"{md(r)}: {c} records" for r, c in others.items()) + ".")
    out.append("- Every change is a revision (before, after, who, when, why); the originals remain in the store's history.")
    split_cfg = ws.settings.split
    out += ["", "## Splits", "",
            f"Whole prompt groups are assigned (no answer to a held-out prompt is trained on), by a stable hash of the "
            f"group and seed {split_cfg.seed}{', stratified by topic' if split_cfg.stratify else ''}.", "",
            _table(["split", "prompt groups", "responses"],
                   [[s, n["splits"][s]["groups"], n["splits"][s]["responses"]]
                    for s in ("train", "val", "test", "unassigned") if s in n["splits"]]),
            "", "## Check results", ""]
    if report:
        out.append(_table(["check", "severity", "findings"], [[r["check"], r["severity"], r["count"]] for r in report.summary()]))
        out.append("")
        out.append("Run `expertune check --html report.html` for the records behind each number.")
    else:
        out.append("Checks were not run for this card.")
    out += ["", "## Known limitations", ""] + [f"- {line}" for line in _limitations(data, n, report, model_share, total)]
    out += ["", "## Licence", "", md(licence), ""]
    return "\n".join(out)


def _limitations(data, n, report, model_share, total) -> list[str]:
    lines = []
    if total < 1000:
        lines.append(f"Small: {total} responses cover each topic only by example; the tuned model will not know what is missing.")
    counts = [v["responses"] for v in n["topics"].values()]
    if len(counts) > 1 and max(counts) > 2 * min(counts):
        small = min(n["topics"], key=lambda t: n["topics"][t]["responses"])
        lines.append(f"Uneven topics: '{md(small)}' has {min(counts)} responses against {max(counts)} for the largest.")
    singles = n["responses_per_prompt"].get(1, 0)
    if singles:
        lines.append(f"{singles} prompt groups have a single answer, so they teach one phrasing rather than a distribution.")
    if model_share:
        lines.append(f"{model_share:.0%} of the responses were drafted with a model and accepted by an expert; they can carry that model's errors and style.")
    if report:
        errors = sum(1 for f in report.findings if f.severity == "error")
        warnings = sum(1 for f in report.findings if f.severity == "warning")
        if errors or warnings:
            lines.append(f"Open check findings: {errors} errors and {warnings} warnings (see Check results).")
    lines.append("Checks are heuristics: personal data in unusual formats, paraphrased contamination and subtle factual "
                 "errors can pass them; answers reflect their authors' views and jurisdiction at the time of writing.")
    return lines
