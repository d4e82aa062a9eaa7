"""The evaluation report: one self-contained HTML file (inline CSS, plots as inline PNG).

The report is a list of sections; each is a function of a ReportContext returning an HTML
fragment (or None to leave the section out). Other evaluations add theirs with
`register_section(key, builder, title=...)`; by default a new section goes before the samples.
Every number comes from the store through evaluate.analysis, and every text is HTML-escaped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from expertune.atomic import write_atomic
from expertune.evaluate import plots
from expertune.evaluate.pairwise.analysis import RunData, load_run_data, shown_names, summarize
from expertune.evaluate.summary import run_summary
from expertune.evaluate.metrics import esc
from expertune.workspace import Workspace


def pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}%"


def num(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def interval(ci: Any) -> str:
    return "–" if not ci else f"[{pct(ci[0])}, {pct(ci[1])}]"


def table(header: list[str], rows: list[list[Any]], *, raw: bool = False) -> str:
    """An HTML table; cells are escaped unless raw=True (then the caller escaped them)."""
    cell = (lambda v: str(v)) if raw else esc
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def img(uri: str | None, alt: str) -> str:
    return f'<img src="{uri}" alt="{esc(alt)}">' if uri else ""


@dataclass
class ReportContext:
    ws: Workspace
    run: dict[str, Any]
    data: RunData
    summary: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)

    # helpers for section builders
    esc = staticmethod(esc)
    pct = staticmethod(pct)
    num = staticmethod(num)
    interval = staticmethod(interval)
    table = staticmethod(table)
    img = staticmethod(img)


Builder = Callable[[ReportContext], str | None]


@dataclass
class Section:
    key: str
    title: str
    builder: Builder


SECTIONS: list[Section] = []


def register_section(key: str, builder: Builder, *, title: str | None = None, before: str | None = "samples",
                     after: str | None = None) -> None:
    """Add (or replace) a report section. Placement: after `after` if given, else before `before`
    (default: before the samples), else at the end."""
    section = Section(key, title or key.replace("_", " ").capitalize(), builder)
    existing = [s.key for s in SECTIONS]
    if key in existing:
        SECTIONS[existing.index(key)] = section
        return
    keys = [s.key for s in SECTIONS]
    if after in keys:
        SECTIONS.insert(keys.index(after) + 1, section)
    elif before in keys:
        SECTIONS.insert(keys.index(before), section)
    else:
        SECTIONS.append(section)


# -- built-in sections ---------------------------------------------------------------------------
def _lineage(ctx: ReportContext) -> str:
    lin = ctx.run["lineage"]
    dv = lin.get("dataset_version")
    rows = [["run", f"eval-{ctx.run['id']}" + (f" ({ctx.run['name']})" if ctx.run.get("name") else "")],
            ["created", lin.get("created_at")], ["expertune", lin.get("expertune_version")],
            ["dataset version", f"{dv['id']} · {dv['hash'][:12]} · {dv.get('name') or ''}" if dv else "none (no snapshot yet)"],
            ["config", lin.get("config_source") or "(Python API)"]]
    cands = []
    for c in lin["candidates"]:
        a = c.get("adapter") or {}
        adapter = (f"{a.get('name') or a.get('path')}@{a.get('version')}" if a.get("name") else a.get("path", "")) if a else "–"
        cands.append([c["name"] + (" (baseline)" if c["name"] == lin["baseline"] else ""), c["type"], c.get("base"),
                      (c.get("base_sha256") or "")[:12], adapter, (a.get("sha256") or "")[:12],
                      (a.get("dataset_hash") or "")[:12], json.dumps(a.get("recipe") or {}, sort_keys=True)[:200] if a else "–"])
    judges = [[j["name"], j["type"], j.get("model_id", ""), j["judge_id"][:12],
               json.dumps({k: v for k, v in j["settings"].items() if k not in ("name", "type")}, sort_keys=True)[:300]]
              for j in lin["judges"]]
    grid = lin["grid"]
    sets = [[s["name"], s["prompts"], s["in_domain"], s["out_of_domain"]] for s in lin.get("prompt_sets", [])]
    return (table(["", ""], rows)
            + "<h3>Candidates</h3>" + table(["name", "type", "base", "base sha256", "adapter", "adapter sha256", "dataset", "recipe"], cands)
            + "<h3>Judges</h3>" + (table(["name", "type", "model", "id", "settings"], judges) if judges else "<p>No judges.</p>")
            + "<h3>Prompts and grid</h3>" + table(["prompt set", "prompts", "in-domain", "out-of-domain"], sets)
            + f"<p>temperatures {esc(grid['temperatures'])} × max_new_tokens {esc(grid['max_new_tokens'])} × seeds "
              f"{esc(grid['seeds'])} × {esc(grid['samples'])} sample(s); top_p {esc(grid['top_p'])}; labels "
              f"{esc(' / '.join(ctx.summary['labels']))}; rubric {esc(lin['rubric_hash'][:12])}</p>")


def _headline(ctx: ReportContext) -> str | None:
    return _win_rates(ctx.summary["pairs"])


def _checkpoint_selection(ctx: ReportContext) -> str | None:
    block = ctx.summary.get("checkpoint_selection")
    if not block:
        return None
    return (f"<p class=note>Prompts of {esc(', '.join(block['sets']))}: the val split, {esc(block['note'])} during "
            "training, so these win rates are optimistic and not held-out results. They are kept out of every other "
            "section of this report.</p>" + (_win_rates(block["pairs"]) or ""))


def _win_rates(pairs: list[dict[str, Any]]) -> str | None:
    parts = []
    for pair in pairs:
        rows, plot_rows = [], []
        for name, j in pair["judges"].items():
            o, lc = j["overall"], j["length_controlled"] or {}
            rows.append([name, o["n"], o["prompts"], o["wins"], o["ties"], o["losses"], pct(o["win_rate"]), interval(o["ci"]),
                         pct(lc.get("win_rate")), interval(lc.get("interval")), interval(o["wilson_unclustered"]),
                         o["failed_items"], o["pending_items"]])
            plot_rows.append({"label": name, "value": o["win_rate"], "interval": o["ci"]})
        p, plc = pair["pooled"]["overall"], pair["pooled"]["length_controlled"] or {}
        rows.append(["pooled", p["n"], p["prompts"], "", "", "", pct(p["win_rate"]), interval(p["ci"]),
                     pct(plc.get("win_rate")), interval(plc.get("interval")), interval(p["wilson_unclustered"]), "", ""])
        plot_rows.append({"label": "pooled", "value": p["win_rate"], "interval": p["ci"], "highlight": True})
        parts.append(
            f"<h3>{esc(pair['candidate'])} vs {esc(pair['baseline'])}</h3>"
            f"<p class=note>Win rate of <b>{esc(pair['candidate'])}</b>; ties count half. The 95% interval resamples "
            f"prompts (a bootstrap over prompts), since the answers to one prompt across seeds, samples and grid cells "
            f"are not independent. LC = length-controlled (logistic model read at equal length). The unclustered Wilson "
            f"interval treats every comparison as independent and is too narrow when a prompt has several; it is shown "
            f"for reference only.</p>"
            + table(["judge", "comparisons", "prompts", "wins", "ties", "losses", "win rate", "95% interval (over prompts)",
                     "LC win rate", "LC interval", "Wilson, unclustered", "failed", "pending"], rows)
            + img(plots.forest(plot_rows, title=f"{pair['candidate']} vs {pair['baseline']}"), "win rates"))
    return "".join(parts) or None


def _domain(ctx: ReportContext) -> str | None:
    parts = []
    for pair in ctx.summary["pairs"]:
        rows, plot_rows = [], []
        for name, d in [*((n, j["domain"]) for n, j in pair["judges"].items()), ("pooled", pair["pooled"]["domain"])]:
            diff = d.get("difference") or {}
            rows.append([name, d["in"]["n"], pct(d["in"]["win_rate"]), interval(d["in"]["ci"]), d["out"]["n"],
                         pct(d["out"]["win_rate"]), interval(d["out"]["ci"]),
                         num(diff.get("difference")), interval(diff.get("interval")), num(diff.get("p_value"))])
            plot_rows += [{"label": f"{name} · in", "value": d["in"]["win_rate"], "interval": d["in"]["ci"]},
                          {"label": f"{name} · out", "value": d["out"]["win_rate"], "interval": d["out"]["ci"], "highlight": True}]
        parts.append(f"<h3>{esc(pair['candidate'])} vs {esc(pair['baseline'])}</h3>"
                     + table(["judge", "in n", "in win rate", "in interval", "out n", "out win rate", "out interval",
                              "in − out", "difference interval", "p (bootstrap)"], rows)
                     + img(plots.forest(plot_rows, title="in-domain vs out-of-domain"), "domain"))
    return "".join(parts) or None


def _grid(ctx: ReportContext) -> str | None:
    grid = ctx.run["lineage"]["grid"]
    temps, lengths = grid["temperatures"], grid["max_new_tokens"]
    cols = [str(m) for m in lengths]
    rows_lbl = [f"T={t}" for t in temps]
    parts = []
    for pair in ctx.summary["pairs"]:
        cells = {(c["temperature"], c["max_new_tokens"]): c for c in pair["pooled"]["grid"]}
        values = [[cells.get((t, m), {}).get("win_rate") for m in lengths] for t in temps]
        rows = [[f"T={c['temperature']}", c["max_new_tokens"], c["n"], c["prompts"], pct(c["win_rate"]), interval(c["ci"])]
                for c in pair["pooled"]["grid"]]
        parts.append(f"<h3>{esc(pair['candidate'])} vs {esc(pair['baseline'])}: pooled win rate per cell</h3>"
                     + table(["temperature", "max new tokens", "comparisons", "prompts", "win rate", "95% interval (over prompts)"], rows)
                     + img(plots.heatmap(values, rows_lbl, cols, title="pooled win rate (columns: max new tokens)"), "grid"))
    trunc_rows, heat_rows, heat_values = [], [], []
    for cand, t in ctx.summary["truncation"].items():
        cells = {(c["temperature"], c["max_new_tokens"]): c for c in t["cells"]}
        for c in t["cells"]:
            trunc_rows.append([cand, f"T={c['temperature']}", c["max_new_tokens"], c["answers"], c["truncated"],
                               pct(c["truncation_rate"]), c["errors"]])
        for temp in temps:
            heat_rows.append(f"{cand} T={temp}")
            heat_values.append([cells.get((temp, m), {}).get("truncation_rate") for m in lengths])
    parts.append("<h3>Truncation (finish reason “length”)</h3>"
                 + table(["candidate", "temperature", "max new tokens", "answers", "truncated", "rate", "errors"], trunc_rows)
                 + img(plots.heatmap(heat_values, heat_rows, cols, title="truncation rate", cmap="Reds"), "truncation"))
    return "".join(parts)


def _criteria(ctx: ReportContext) -> str | None:
    parts = []
    for pair in ctx.summary["pairs"]:
        for name, j in pair["judges"].items():
            crit = j["criteria"]
            if not crit:
                continue
            rows = [[c, num(v["candidate_mean"], 2), num(v["baseline_mean"], 2), v["n"], pct(v["win_rate"]), interval(v["ci"])]
                    for c, v in crit.items()]
            chart = plots.grouped_bars(list(crit), {pair["candidate"]: [v["candidate_mean"] for v in crit.values()],
                                                    pair["baseline"]: [v["baseline_mean"] for v in crit.values()]},
                                       title=f"mean scores · judge {name}", ylabel="score")
            parts.append(f"<h3>{esc(pair['candidate'])} vs {esc(pair['baseline'])} · judge {esc(name)}</h3>"
                         + table(["criterion", f"mean {pair['candidate']}", f"mean {pair['baseline']}", "n", "criterion win rate",
                                  "95% interval (over prompts)"], rows) + img(chart, "criteria"))
    return "".join(parts) or "<p>No rubric scores (local judges score criteria only with rubric_scores: true).</p>"


def _reliability(ctx: ReportContext) -> str | None:
    parts = []
    for pair in ctx.summary["pairs"]:
        rows = []
        for name, j in pair["judges"].items():
            r, fp = j["reliability"], j["reliability"]["first_position"]
            rows.append([name, r["n"], r["flips"], pct(r["flip_rate"]), r["tie_plus_decisive"], fp["first"], fp["second"],
                         fp["ties"], pct(fp["first_rate"]), num(fp["p_value"]),
                         "yes" if r.get("reliable", True) else "no: " + "; ".join(r.get("reasons", []))])
        ag = pair["agreement"]
        kappa_rows = [[" × ".join(p["judges"]), p["n"], num(p["kappa"]), pct(p["raw_agreement"])] for p in ag["pairs"]]
        if ag["fleiss"]:
            f = ag["fleiss"]
            kappa_rows.append([f"all ({len(f['judges'])} judges, Fleiss)", f["n"], num(f["kappa"]), pct(f["raw_agreement"])])
        parts.append(
            f"<h3>{esc(pair['candidate'])} vs {esc(pair['baseline'])}</h3>"
            "<p class=note>A flip: the two orders gave opposite winners (the verdict follows the position). First-slot rate: "
            "share of decisive single-order verdicts that chose the first answer (0.5 = no position bias).</p>"
            + table(["judge", "items", "flips", "flip rate", "tie + decisive", "first", "second", "ties", "first-slot rate",
                     "p (binomial)", "reliable"], rows)
            + ("<h3>Agreement between judges</h3><p class=note>κ corrects raw agreement for chance; raw agreement "
               "overstates reliability when one verdict dominates.</p>"
               + table(["judges", "items", "κ", "raw agreement"], kappa_rows) if kappa_rows else ""))
    return "".join(parts) or None


def _failures(ctx: ReportContext) -> str | None:
    s = ctx.summary
    rows = [[j, f["failed_judgments"], "; ".join(f"{e['count']}× {e['error']}" for e in f["errors"])] for j, f in s["failures"].items()]
    costs = [[k, f"${v['usd']:.4f}", v["input_tokens"], v["output_tokens"], v["calls"]] for k, v in s["costs"]["by_actor"].items()]
    c = s["counts"]
    return (f"<p>{c['items']} comparisons · {c['missing_answers']} missing an answer · {c['identical_answers']} with identical "
            f"answers (tie, not judged) · {c['flagged_planted_verdict']} flagged for verdict-like text inside an answer.</p>"
            "<p class=note>Failed judgments (HTTP errors or unreadable replies after retries) are never counted as a win or a "
            "tie; an item whose judgment failed in either order has no verdict from that judge.</p>"
            + table(["judge", "failed judgments", "errors"], rows)
            + f"<h3>Costs</h3><p>Total ${s['costs']['total_usd']:.4f}</p>"
            + (table(["stage:actor", "USD", "input tokens", "output tokens", "calls"], costs) if costs else ""))


def _samples(ctx: ReportContext) -> str | None:
    limit = int(ctx.options.get("samples", 30))
    items = sorted(ctx.data.items, key=lambda i: (not i.flagged, not any(v.kind == "flip" for v in i.judges.values()),
                                                    i.comparison.prompt["idx"]))[:limit]
    if not items:
        return None
    out = [f"<p class=note>{len(items)} of {len(ctx.data.items)} comparisons (flagged and flipped first). Names are shown "
           "here; the judges saw only neutral labels.</p>"]
    for item in items:
        c = item.comparison
        convo = "".join(f"<div class=msg><b>{esc(m['role'])}</b><pre>{esc(m['content'])}</pre></div>" for m in c.prompt["messages"])
        verdicts = []
        for name, v in item.judges.items():
            orders = []
            for order, row in enumerate(v.rows):
                if row is None:
                    orders.append(f"order {order + 1}: {'tie (identical answers)' if v.kind == 'identical' else 'not judged'}")
                    continue
                shown = " / ".join(f"{esc(label)}={esc(name)}" for label, name in shown_names(row.mapping, c).items())
                body = f"{esc(row.verdict)} → {esc(v.orders[order])}" if row.status == "ok" else f"failed: {esc(row.error)}"
                flag = " ⚑ verdict-like text in an answer" if (row.flags or {}).get("planted_verdict") else ""
                orders.append(f"order {order + 1} ({shown}): <b>{body}</b>{flag}<br><span class=reason>{esc(row.reason)}</span>")
            verdicts.append(f"<li><b>{esc(name)}</b>: {esc(v.verdict or 'no verdict')} ({esc(v.kind)})<br>" + "<br>".join(orders) + "</li>")
        out.append(
            f"<details><summary>#{c.prompt['idx']} · {esc(c.prompt['set_name'])} · {'in' if c.prompt['in_domain'] else 'out of'} "
            f"domain · T={esc(c.temperature)} · max {esc(c.max_new_tokens)} · seed {esc(c.seed)}/{esc(c.sample)} · "
            f"{esc(_short(c.prompt['messages'][-1]['content']))}</summary>{convo}<div class=pair>"
            f"<div><h4>{esc(c.candidate)} <small>({esc(c.candidate_gen.finish_reason)})</small></h4><pre>{esc(c.candidate_gen.text)}</pre></div>"
            f"<div><h4>{esc(c.baseline)} <small>({esc(c.baseline_gen.finish_reason)})</small></h4><pre>{esc(c.baseline_gen.text)}</pre></div>"
            f"</div><ul>{''.join(verdicts)}</ul></details>")
    return "".join(out)


def _short(text: str, n: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _evidence(ctx: ReportContext) -> str | None:
    from expertune.evaluate.evidence import evidence_summary, report_section

    return report_section(evidence_summary(ctx.summary))


for _key, _title, _builder in (
    ("evidence", "What the evidence says", _evidence),
    ("lineage", "Lineage", _lineage),
    ("headline", "Win rates", _headline),
    ("checkpoint_selection", "Val split (used for checkpoint selection)", _checkpoint_selection),
    ("domain", "In-domain vs out-of-domain", _domain),
    ("grid", "Temperature × max tokens", _grid),
    ("criteria", "Rubric criteria", _criteria),
    ("reliability", "Judge reliability", _reliability),
    ("failures", "Failures, flags and costs", _failures),
    ("samples", "Samples", _samples),
):
    register_section(_key, _builder, title=_title, before=None)


# -- assembling ----------------------------------------------------------------------------------
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
    """The report's HTML and the summary it was built from."""
    from expertune.evaluate.extensions import load_plugins

    load_plugins()  # other evaluations register their sections on import
    data = load_run_data(ws, run_ref)
    summary = run_summary(ws, run_ref) if (Path(data.run["folder"]) / "tasks").is_dir() else summarize(data)
    ctx = ReportContext(ws, data.run, data, summary, {"samples": samples})
    body, nav, built, errors = [], [], [], {}
    for section in list(SECTIONS):
        try:
            fragment = section.builder(ctx)
        except Exception as err:  # noqa: BLE001 - one broken section must not hide the others
            errors[section.key] = f"{type(err).__name__}: {err}"
            fragment = f"<p class=error>This section failed to build: {esc(errors[section.key])}</p>"
        if fragment:
            built.append(section.key)
            nav.append(f'<a href="#{esc(section.key)}">{esc(section.title)}</a>')
            body.append(f'<section id="{esc(section.key)}"><h2>{esc(section.title)}</h2>{fragment}</section>')
    title = f"expertune evaluation eval-{data.run['id']}" + (f" · {data.run['name']}" if data.run.get("name") else "")
    page = (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{esc(title)}</title><style>{CSS}</style></head>"
            f"<body><h1>{esc(title)}</h1><nav>{''.join(nav)}</nav>{''.join(body)}</body></html>")
    return page, {"sections": built, "section_errors": errors, "summary": summary}


def write_report(ws: Workspace, run_ref: int | str, out: Path | None = None, *, samples: int = 30) -> dict[str, Any]:
    page, meta = build_report(ws, run_ref, samples=samples)
    path = out or Path(meta["summary"]["run"]["folder"]) / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, page)
    return {"path": str(path), "bytes": len(page.encode("utf-8")), **meta}
