"""The report's built-in sections: lineage, win rates, the val split, domains, the grid, rubric
criteria, judge reliability, failures and samples, after "What the evidence says".

Each section is a function of a ReportContext returning an HTML fragment (or None to leave the
section out), registered with `@report_section` (evaluate/registry.py) in the order it appears in
the report. Sections of other evaluations (the human judgments, the tasks' results) register the
same way and say where they go. Every number comes from the store through
evaluate.pairwise.analysis, and every text is HTML-escaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from expertune.evaluate.pairwise.analysis import RunData, shown_names
from expertune.evaluate.registry import report_section
from expertune.evaluate.report import plots
from expertune.evaluate.report.evidence import evidence_summary, report_section as evidence_section
from expertune.evaluate.report.html import esc, img, interval, num, pct, settings_text, table
from expertune.evaluate.runs import EvalRunRecord
from expertune.evaluate.summary import PairSummary, RunSummary
from expertune.workspace import Workspace


@dataclass
class ReportContext:
    ws: Workspace
    run: EvalRunRecord
    data: RunData
    summary: RunSummary
    options: dict[str, Any] = field(default_factory=dict)

    # helpers for section builders
    esc = staticmethod(esc)
    pct = staticmethod(pct)
    num = staticmethod(num)
    interval = staticmethod(interval)
    table = staticmethod(table)
    img = staticmethod(img)


# -- built-in sections (in report order) ------------------------------------------------------------
@report_section("evidence", title="What the evidence says", before=None)
def _evidence(ctx: ReportContext) -> str | None:
    return evidence_section(evidence_summary(ctx.summary))


@report_section("lineage", title="Lineage", before=None)
def _lineage(ctx: ReportContext) -> str:
    lin = ctx.run.lineage
    dv = lin.dataset_version
    rows = [["run", f"eval-{ctx.run.id}" + (f" ({ctx.run.name})" if ctx.run.name else "")],
            ["created", lin.created_at], ["expertune", lin.expertune_version],
            ["dataset version", f"{dv['id']} · {dv['hash'][:12]} · {dv.get('name') or ''}" if dv else "none (no snapshot yet)"],
            ["config", lin.config_source or "(Python API)"]]
    cands = []
    for c in lin.candidates:
        a = c.adapter
        adapter = (f"{a.name}@{a.version}" if a.name else a.path) if a else "–"
        cands.append([c.name + (" (baseline)" if c.name == lin.baseline else ""), c.type, c.base,
                      (getattr(c, "base_sha256", None) or "")[:12], adapter, a.sha256[:12] if a else "",
                      (a.dataset_hash or "")[:12] if a else "", settings_text(a.recipe) if a else "–"])
    judges = [[j.name, j.type, j.model_id or "", j.judge_id[:12],
               settings_text({k: v for k, v in j.settings.items() if k not in ("name", "type")})]
              for j in lin.judges]
    grid = lin.grid
    sets = [[s.name, s.prompts, s.in_domain, s.out_of_domain] for s in lin.prompt_sets]
    return (table(None, rows)
            + "<h3>Candidates</h3>" + table(["name", "type", "base", "base sha256", "adapter", "adapter sha256", "dataset", "recipe"], cands)
            + "<h3>Judges</h3>" + (table(["name", "type", "model", "id", "settings"], judges) if judges else "<p>No judges.</p>")
            + "<h3>Prompts and grid</h3>" + table(["prompt set", "prompts", "in-domain", "out-of-domain"], sets)
            + f"<p>temperatures {esc(grid.temperatures)} × max_new_tokens {esc(grid.max_new_tokens)} × seeds "
              f"{esc(grid.seeds)} × {esc(grid.samples)} sample(s); top_p {esc(grid.top_p)}; labels "
              f"{esc(' / '.join(ctx.summary.labels))}; rubric {esc(lin.rubric_hash[:12])}</p>")


@report_section("headline", title="Win rates", before=None)
def _headline(ctx: ReportContext) -> str | None:
    return _win_rates(ctx.summary.pairs)


@report_section("checkpoint_selection", title="Val split (used for checkpoint selection)", before=None)
def _checkpoint_selection(ctx: ReportContext) -> str | None:
    block = ctx.summary.checkpoint_selection
    if not block:
        return None
    return (f"<p class=note>Prompts of {esc(', '.join(block.sets))}: the val split, {esc(block.note)} during "
            "training, so these win rates are optimistic and not held-out results. They are kept out of every other "
            "section of this report.</p>" + (_win_rates(block.pairs) or ""))


def _win_rates(pairs: list[PairSummary]) -> str | None:
    parts = []
    for pair in pairs:
        rows, plot_rows = [], []
        for name, j in pair.judges.items():
            o, lc = j["overall"], j["length_controlled"] or {}
            rows.append([name, o["n"], o["prompts"], o["wins"], o["ties"], o["losses"], pct(o["win_rate"]), interval(o["ci"]),
                         pct(lc.get("win_rate")), interval(lc.get("interval")), interval(o["wilson_unclustered"]),
                         o["failed_items"], o["pending_items"]])
            plot_rows.append({"label": name, "value": o["win_rate"], "interval": o["ci"]})
        p, plc = pair.pooled["overall"], pair.pooled["length_controlled"] or {}
        rows.append(["pooled", p["n"], p["prompts"], "", "", "", pct(p["win_rate"]), interval(p["ci"]),
                     pct(plc.get("win_rate")), interval(plc.get("interval")), interval(p["wilson_unclustered"]), "", ""])
        plot_rows.append({"label": "pooled", "value": p["win_rate"], "interval": p["ci"], "highlight": True})
        parts.append(
            f"<h3>{esc(pair.candidate)} vs {esc(pair.baseline)}</h3>"
            f"<p class=note>Win rate of <b>{esc(pair.candidate)}</b>; ties count half. The 95% interval resamples "
            f"prompts (a bootstrap over prompts), since the answers to one prompt across seeds, samples and grid cells "
            f"are not independent. LC = length-controlled (logistic model read at equal length). The unclustered Wilson "
            f"interval treats every comparison as independent and is too narrow when a prompt has several; it is shown "
            f"for reference only.</p>"
            + table(["judge", "comparisons", "prompts", "wins", "ties", "losses", "win rate", "95% interval (over prompts)",
                     "LC win rate", "LC interval", "Wilson, unclustered", "failed", "pending"], rows)
            + img(plots.forest(plot_rows, title=f"{pair.candidate} vs {pair.baseline}"), "win rates"))
    return "".join(parts) or None


@report_section("domain", title="In-domain vs out-of-domain", before=None)
def _domain(ctx: ReportContext) -> str | None:
    parts = []
    for pair in ctx.summary.pairs:
        rows, plot_rows = [], []
        for name, d in [*((n, j["domain"]) for n, j in pair.judges.items()), ("pooled", pair.pooled["domain"])]:
            diff = d.get("difference") or {}
            rows.append([name, d["in"]["n"], pct(d["in"]["win_rate"]), interval(d["in"]["ci"]), d["out"]["n"],
                         pct(d["out"]["win_rate"]), interval(d["out"]["ci"]),
                         num(diff.get("difference")), interval(diff.get("interval")), num(diff.get("p_value"))])
            plot_rows += [{"label": f"{name} · in", "value": d["in"]["win_rate"], "interval": d["in"]["ci"]},
                          {"label": f"{name} · out", "value": d["out"]["win_rate"], "interval": d["out"]["ci"], "highlight": True}]
        parts.append(f"<h3>{esc(pair.candidate)} vs {esc(pair.baseline)}</h3>"
                     + table(["judge", "in n", "in win rate", "in interval", "out n", "out win rate", "out interval",
                              "in − out", "difference interval", "p (bootstrap)"], rows)
                     + img(plots.forest(plot_rows, title="in-domain vs out-of-domain"), "domain"))
    return "".join(parts) or None


@report_section("grid", title="Temperature × max tokens", before=None)
def _grid(ctx: ReportContext) -> str | None:
    grid = ctx.run.lineage.grid
    temps, lengths = grid.temperatures, grid.max_new_tokens
    cols = [str(m) for m in lengths]
    rows_lbl = [f"T={t}" for t in temps]
    parts = []
    for pair in ctx.summary.pairs:
        cells = {(c["temperature"], c["max_new_tokens"]): c for c in pair.pooled["grid"]}
        values = [[cells.get((t, m), {}).get("win_rate") for m in lengths] for t in temps]
        rows = [[f"T={c['temperature']}", c["max_new_tokens"], c["n"], c["prompts"], pct(c["win_rate"]), interval(c["ci"])]
                for c in pair.pooled["grid"]]
        parts.append(f"<h3>{esc(pair.candidate)} vs {esc(pair.baseline)}: pooled win rate per cell</h3>"
                     + table(["temperature", "max new tokens", "comparisons", "prompts", "win rate", "95% interval (over prompts)"], rows)
                     + img(plots.heatmap(values, rows_lbl, cols, title="pooled win rate (columns: max new tokens)"), "grid"))
    trunc_rows, heat_rows, heat_values = [], [], []
    for cand, t in ctx.summary.truncation.items():
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


@report_section("criteria", title="Rubric criteria", before=None)
def _criteria(ctx: ReportContext) -> str | None:
    parts = []
    for pair in ctx.summary.pairs:
        for name, j in pair.judges.items():
            crit = j["criteria"]
            if not crit:
                continue
            rows = [[c, num(v["candidate_mean"], 2), num(v["baseline_mean"], 2), v["n"], pct(v["win_rate"]), interval(v["ci"])]
                    for c, v in crit.items()]
            chart = plots.grouped_bars(list(crit), {pair.candidate: [v["candidate_mean"] for v in crit.values()],
                                                    pair.baseline: [v["baseline_mean"] for v in crit.values()]},
                                       title=f"mean scores · judge {name}", ylabel="score")
            parts.append(f"<h3>{esc(pair.candidate)} vs {esc(pair.baseline)} · judge {esc(name)}</h3>"
                         + table(["criterion", f"mean {pair.candidate}", f"mean {pair.baseline}", "n", "criterion win rate",
                                  "95% interval (over prompts)"], rows) + img(chart, "criteria"))
    return "".join(parts) or "<p>No rubric scores (local judges score criteria only with rubric_scores: true).</p>"


@report_section("reliability", title="Judge reliability", before=None)
def _reliability(ctx: ReportContext) -> str | None:
    parts = []
    for pair in ctx.summary.pairs:
        rows = []
        for name, j in pair.judges.items():
            r, fp = j["reliability"], j["reliability"]["first_position"]
            rows.append([name, r["n"], r["flips"], pct(r["flip_rate"]), r["tie_plus_decisive"], fp["first"], fp["second"],
                         fp["ties"], pct(fp["first_rate"]), num(fp["p_value"]),
                         "yes" if r.get("reliable", True) else "no: " + "; ".join(r.get("reasons", []))])
        ag = pair.agreement
        kappa_rows = [[" × ".join(p["judges"]), p["n"], num(p["kappa"]), pct(p["raw_agreement"])] for p in ag["pairs"]]
        if ag["fleiss"]:
            f = ag["fleiss"]
            kappa_rows.append([f"all ({len(f['judges'])} judges, Fleiss)", f["n"], num(f["kappa"]), pct(f["raw_agreement"])])
        parts.append(
            f"<h3>{esc(pair.candidate)} vs {esc(pair.baseline)}</h3>"
            "<p class=note>A flip: the two orders gave opposite winners (the verdict follows the position). First-slot rate: "
            "share of decisive single-order verdicts that chose the first answer (0.5 = no position bias).</p>"
            + table(["judge", "items", "flips", "flip rate", "tie + decisive", "first", "second", "ties", "first-slot rate",
                     "p (binomial)", "reliable"], rows)
            + ("<h3>Agreement between judges</h3><p class=note>κ corrects raw agreement for chance; raw agreement "
               "overstates reliability when one verdict dominates.</p>"
               + table(["judges", "items", "κ", "raw agreement"], kappa_rows) if kappa_rows else ""))
    return "".join(parts) or None


@report_section("failures", title="Failures, flags and costs", before=None)
def _failures(ctx: ReportContext) -> str | None:
    s = ctx.summary
    rows = [[j, f["failed_judgments"], "; ".join(f"{e['count']}× {e['error']}" for e in f["errors"])] for j, f in s.failures.items()]
    costs = [[k, f"${v['usd']:.4f}", v["input_tokens"], v["output_tokens"], v["calls"]] for k, v in s.costs["by_actor"].items()]
    c = s.counts
    return (f"<p>{c.items} comparisons · {c.missing_answers} missing an answer · {c.identical_answers} with identical "
            f"answers (tie, not judged) · {c.flagged_planted_verdict} flagged for verdict-like text inside an answer.</p>"
            "<p class=note>Failed judgments (HTTP errors or unreadable replies after retries) are never counted as a win or a "
            "tie; an item whose judgment failed in either order has no verdict from that judge.</p>"
            + table(["judge", "failed judgments", "errors"], rows)
            + f"<h3>Costs</h3><p>Total ${s.costs['total_usd']:.4f}</p>"
            + (table(["stage:actor", "USD", "input tokens", "output tokens", "calls"], costs) if costs else ""))


@report_section("samples", title="Samples", before=None)
def _samples(ctx: ReportContext) -> str | None:
    limit = int(ctx.options.get("samples", 30))
    items = sorted(ctx.data.items, key=lambda i: (not i.flagged, not any(v.kind == "flip" for v in i.judges.values()),
                                                    i.comparison.prompt.idx))[:limit]
    if not items:
        return None
    out = [f"<p class=note>{len(items)} of {len(ctx.data.items)} comparisons (flagged and flipped first). Names are shown "
           "here; the judges saw only neutral labels.</p>"]
    for item in items:
        c = item.comparison
        convo = "".join(f"<div class=msg><b>{esc(m['role'])}</b><pre>{esc(m['content'])}</pre></div>" for m in c.prompt.messages)
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
            f"<details><summary>#{c.prompt.idx} · {esc(c.prompt.set_name)} · {'in' if c.prompt.in_domain else 'out of'} "
            f"domain · T={esc(c.temperature)} · max {esc(c.max_new_tokens)} · seed {esc(c.seed)}/{esc(c.sample)} · "
            f"{esc(_short(c.prompt.messages[-1]['content']))}</summary>{convo}<div class=pair>"
            f"<div><h4>{esc(c.candidate)} <small>({esc(c.candidate_gen.finish_reason)})</small></h4><pre>{esc(c.candidate_gen.text)}</pre></div>"
            f"<div><h4>{esc(c.baseline)} <small>({esc(c.baseline_gen.finish_reason)})</small></h4><pre>{esc(c.baseline_gen.text)}</pre></div>"
            f"</div><ul>{''.join(verdicts)}</ul></details>")
    return "".join(out)


def _short(text: str, n: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
