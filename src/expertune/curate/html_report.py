"""A self-contained HTML page of a check report: summary, then every finding with the offending
text highlighted. No scripts or external files: it opens anywhere and can be attached to a review."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from expertune.curate.dataset import CurationData
from expertune.curate.findings import CheckReport, Finding, Span, ref_label

MAX_FINDINGS = 300  # per check; the JSON output has them all
CONTEXT = 160  # characters shown around a highlight

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{padding:.25em .8em;border-bottom:1px solid #eee;text-align:left}
.sev{display:inline-block;min-width:4.5em;text-align:center;border-radius:3px;padding:0 .4em;font-size:.85em;color:#fff}
.error{background:#c62828}.warning{background:#ef6c00}.info{background:#1565c0}.ok{background:#2e7d32}
.finding{margin:.8em 0;padding:.5em .8em;border-left:4px solid #ccc;background:#fafafa}
.finding.error{border-color:#c62828;background:#fff5f5}.finding.warning{border-color:#ef6c00;background:#fffaf2}
.finding .sev{margin-right:.5em}.refs{color:#666;font-size:.85em}
pre.text{white-space:pre-wrap;background:#fff;border:1px solid #eee;padding:.5em;margin:.4em 0;font-size:.9em}
mark{background:#ffe082;padding:0 1px}mark[title]{cursor:help}
.bar{display:inline-block;background:#1565c0;height:.9em;vertical-align:middle}
details{margin:.5em 0}
"""


def _texts(data: CurationData, span_or_ref) -> str | None:
    if getattr(span_or_ref, "response_id", None) is not None and getattr(span_or_ref, "field", "response") == "response":
        return data.response_text(span_or_ref.response_id)
    gi = data.group_index.get(span_or_ref.group_id)
    if gi is None:
        return None
    g = data.groups[gi]
    field = getattr(span_or_ref, "field", "prompt")
    if field == "system":
        return g.system or ""
    if field.startswith("context."):
        n = int(field.split(".")[1])
        return (g.context[n].get("content") or "") if n < len(g.context) else None
    return g.prompt


def highlight(text: str, spans: list[tuple[int, int, str | None]]) -> str:
    """HTML of `text` with the spans marked; long stretches between spans are elided."""
    spans = sorted((max(0, s), min(len(text), e), label) for s, e, label in spans if e > s)
    out, pos = [], 0
    for s, e, label in spans:
        if s < pos:
            continue
        gap = text[pos:s]
        if len(gap) > 2 * CONTEXT:
            gap = (gap[:CONTEXT] if pos else "") + " … " + gap[-CONTEXT:]
        out.append(escape(gap))
        title = f' title="{escape(label)}"' if label else ""
        out.append(f"<mark{title}>{escape(text[s:e])}</mark>")
        pos = e
    tail = text[pos:]
    out.append(escape(tail if len(tail) <= CONTEXT * 2 else tail[:CONTEXT] + " …"))
    return "".join(out)


def _excerpts(data: CurationData | None, f: Finding) -> str:
    if data is None:
        return ""
    blocks = []
    by_text: dict[tuple, list[Span]] = defaultdict(list)
    for s in f.spans:
        by_text[(s.response_id, s.group_id, s.field)].append(s)
    for (rid, gid, field), spans in list(by_text.items())[:5]:
        text = _texts(data, spans[0])
        if text is not None:
            label = f"response {rid}" if field == "response" else f"group {gid} {field}"
            blocks.append(f"<div class=refs>{escape(label)}</div><pre class=text>"
                          f"{highlight(text, [(s.start, s.end, s.label) for s in spans])}</pre>")
    if not f.spans:
        for ref in f.records[:3]:
            text = _texts(data, ref)
            if text:
                short = text if len(text) <= 600 else text[:600] + " …"
                blocks.append(f"<div class=refs>{escape(ref_label(ref))}</div><pre class=text>{escape(short)}</pre>")
    return "".join(blocks)


def _histogram(stats: dict) -> str:
    hist = stats.get("histogram")
    if not hist:
        return ""
    top = max(hist["counts"]) or 1
    rows = "".join(
        f"<tr><td>{lo:.2f} … {hi:.2f}</td><td><span class=bar style='width:{200 * c / top:.0f}px'></span> {c}</td></tr>"
        for lo, hi, c in zip(hist["edges"], hist["edges"][1:], hist["counts"])
    )
    return f"<h3>Score distribution (mean log-probability per token)</h3><table>{rows}</table>"


def describe_source(source: dict) -> str:
    """What was checked, in words: the store's accepted responses or a dataset version, how many,
    with which base model, and the model-based checks left out."""
    if source.get("kind") == "dataset_version":
        what = f"dataset version {source.get('name') or source.get('id')} ({str(source.get('hash', ''))[:12]})"
    else:
        what = "the store's " + " and ".join(source.get("statuses") or ["accepted"]) + " responses"
    parts = [what]
    if "responses" in source:
        n, groups = source["responses"], source.get("groups", "?")
        parts.append(f"{n} response{'' if n == 1 else 's'} in {groups} prompt group{'' if groups == 1 else 's'}")
    if source.get("base_model"):
        parts.append(f"base model {source['base_model']}")
    if source.get("not_run"):
        parts.append(f"not run: {', '.join(source['not_run'])} (--with-model)")
    return " · ".join(parts)


def render_html(report: CheckReport, *, title: str = "expertune check report") -> str:
    data = report.data
    parts = [f"<!doctype html><html><head><meta charset=utf-8><title>{escape(title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{escape(title)}</h1>",
             f"<p>{escape(describe_source(report.source))} · generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}</p>",
             "<table><tr><th>check</th><th>severity</th><th>findings</th><th>records</th></tr>"]
    for row in report.summary():
        refs = ", ".join(dict.fromkeys(ref_label(r) for r in row["records"]))
        refs = refs if len(refs) < 200 else refs[:200] + " …"
        parts.append(f"<tr><td><a href='#{row['check']}'>{row['check']}</a></td>"
                     f"<td><span class='sev {row['severity']}'>{row['severity']}</span></td><td>{row['count']}</td>"
                     f"<td class=refs>{escape(refs)}</td></tr>")
    parts.append("</table>")
    for result in report.results:
        parts.append(f"<h2 id='{result.check}'>{escape(result.check)} <small>({len(result.findings)} findings, "
                     f"{result.seconds:.2f} s)</small></h2>")
        stats = {k: v for k, v in result.stats.items() if k not in ("histogram", "scores")}
        parts.append(f"<details><summary>numbers</summary><pre>{escape(json.dumps(stats, indent=2, default=str))}</pre></details>")
        parts.append(_histogram(result.stats))
        for f in result.findings[:MAX_FINDINGS]:
            refs = ", ".join(f"{ref_label(r)}{f' ({r.split})' if r.split else ''}" for r in f.records[:20])
            more = f" and {len(f.records) - 20} more" if len(f.records) > 20 else ""
            parts.append(f"<div class='finding {f.severity}'><span class='sev {f.severity}'>{f.severity}</span>"
                         f"{escape(f.message)}<div class=refs>{escape(refs + more)}</div>{_excerpts(data, f)}</div>")
        if len(result.findings) > MAX_FINDINGS:
            parts.append(f"<p>… {len(result.findings) - MAX_FINDINGS} more findings (see `expertune check --json`).</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(report: CheckReport, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path
