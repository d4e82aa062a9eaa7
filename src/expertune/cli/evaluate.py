"""`expertune eval run|generate|judge|stats|list` and `expertune report`.

Other evaluation command groups add themselves to `eval_app` (see the end of register()).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from expertune.cli.common import JsonOpt, SetOpt, console, emit, err_console, progress_bar, workspace

if TYPE_CHECKING:  # imported inside the commands: `expertune --help` starts without them
    from expertune.evaluate.report.evidence import EvidenceSummary
    from expertune.evaluate.results import TaskSummary
    from expertune.evaluate.summary import RunSummary

eval_app = typer.Typer(help="Evaluate: generate answers, judge them blind and pairwise, compute statistics.",
                       no_args_is_help=True)

BudgetOpt = typer.Option(None, "--budget", help="Stop paid judge calls before the run's total spend exceeds this (USD).")


def _progress(as_json: bool):
    return lambda name: progress_bar(name, enabled=not as_json)


def _run_ref(target: str) -> tuple[Path | None, str | None]:
    """EVAL.yaml (a file) starts a new run; anything else names an existing run."""
    path = Path(target)
    return (path, None) if path.suffix in (".yaml", ".yml") or path.is_file() else (None, target)


@eval_app.command("run")
def run(
    ctx: typer.Context,
    config: Optional[Path] = typer.Argument(None, help="The eval config (YAML). Omit with --resume."),
    overrides: Optional[List[str]] = SetOpt,
    budget: Optional[float] = BudgetOpt,
    resume: Optional[str] = typer.Option(None, "--resume", help="Continue an existing run (its id) instead of starting one."),
    as_json: bool = JsonOpt,
) -> None:
    """Run everything: generate, judge, extra tasks, statistics. Resumable (cached by content)."""
    from expertune.errors import ConfigError
    from expertune.evaluate.pipeline import run_eval

    if config is None and resume is None:
        raise ConfigError("give an eval config (expertune eval run EVAL.yaml) or --resume RUN")
    result = run_eval(workspace(ctx), config, overrides=overrides, resume=resume, budget_usd=budget, progress=_progress(as_json),
                      on_estimate=_print_estimate)
    emit(result, as_json, lambda r: (_print_generation(r.get("generation")), _print_judging(r.get("judging")),
                                     _print_evidence(r["summary"].evidence), _print_stats(r["summary"]),
                                     _print_tasks(r.get("tasks")),
                                     console.print(Text.assemble("run ", (f"eval-{r['run']}", "bold"), f" in {r['folder']}"))))


def _print_tasks(tasks: dict[str, TaskSummary] | None) -> None:
    """One line per judge-free comparison: exam accuracy (McNemar) and held-out perplexity."""
    for name, task in (tasks or {}).items():
        result = task.model_dump(mode="json")  # each task chooses its headline figures (results.TaskSummary)
        base = result.get("baseline", "base")
        for cand, formats in (result.get("comparisons") or {}).items():
            for fmt, c in formats.items():
                if not isinstance(c, dict) or "mcnemar" not in c or c.get("base_accuracy") is None:
                    continue
                console.print(f"  {name} {fmt}: {base} {c['base_accuracy']:.1%} → {cand} {c['tuned_accuracy']:.1%} "
                              f"(n={c['n']}, McNemar p={c['mcnemar']['p_value']:.3f})")
        for set_name, block in (result.get("sets") or {}).items():
            models = block["models"]
            for cand, diff in block.get("differences", {}).items():
                # The same t interval over groups as the evidence summary, so the two lines agree.
                ci = diff["t"]["ci"]
                console.print(f"  {name} {set_name}: perplexity {base} {models[base]['perplexity']:.2f} → {cand} "
                              f"{models[cand]['perplexity']:.2f}; paired NLL difference {diff['t']['mean']:+.3f} "
                              f"nats/token, 95% t interval [{ci[0]:+.3f}, {ci[1]:+.3f}] over {diff['n_groups']} groups")


@eval_app.command("generate")
def generate(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="EVAL.yaml (starts a run) or a run id (continues it)."),
    overrides: Optional[List[str]] = SetOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Generate the candidates' answers (only what the store lacks)."""
    from expertune.evaluate.pairwise.generation import run_generation
    from expertune.evaluate.pipeline import start_run

    ws = workspace(ctx)
    path, ref = _run_ref(target)
    run_id = start_run(ws, path, overrides).id if path else ref
    with progress_bar("generating", enabled=not as_json) as update:
        result = run_generation(ws, run_id, progress=update)
    emit(result, as_json, _print_generation)


@eval_app.command("judge")
def judge(
    ctx: typer.Context,
    run_ref: str = typer.Argument(..., metavar="RUN", help="The run id."),
    budget: Optional[float] = BudgetOpt,
    judges: Optional[List[str]] = typer.Option(None, "--judge", help="Only this judge (repeatable)."),
    estimate: bool = typer.Option(False, "--estimate", help="Only print what is pending and its estimated cost."),
    as_json: bool = JsonOpt,
) -> None:
    """Judge the run's comparisons in both orders (only what is not judged yet)."""
    from expertune.evaluate.pairwise.judging import run_judging

    with progress_bar("judging", enabled=not as_json and not estimate) as update:
        result = run_judging(workspace(ctx), run_ref, budget_usd=budget, judges=judges, estimate_only=estimate, progress=update,
                             on_estimate=_print_estimate)
    emit(result, as_json, _print_judging)


@eval_app.command("stats")
def stats(
    ctx: typer.Context,
    run_ref: str = typer.Argument(..., metavar="RUN", help="The run id."),
    evidence_only: bool = typer.Option(False, "--evidence", help="Only the evidence summary."),
    as_json: bool = JsonOpt,
) -> None:
    """The evidence summary, then win rates with intervals, judge reliability, agreement, domains,
    the grid and every task's lines (from the store)."""
    from expertune.evaluate.pipeline import write_summary

    summary = write_summary(workspace(ctx), run_ref)
    if evidence_only:
        emit(summary.evidence, as_json, _print_evidence)
        return
    emit(summary, as_json, lambda s: (_print_evidence(s.evidence), _print_stats(s), _print_tasks(s.tasks)))


@eval_app.command("plan")
def plan(
    effect: float = typer.Option(0.1, "--effect", help="The win-rate difference from 50% to detect (0.1 = a 60% win rate)."),
    power: float = typer.Option(0.8, "--power", help="Chance of detecting it when it is real."),
    confidence: float = typer.Option(0.95, "--confidence", help="1 - the two-sided significance level."),
    as_json: bool = JsonOpt,
) -> None:
    """Before a run: how many prompts a pairwise win-rate difference of --effect needs."""
    from expertune.evaluate.report.evidence import plan_prompts

    emit(plan_prompts(effect, power=power, confidence=confidence), as_json, lambda r: console.print(
        f"{r['prompts']} prompts detect a win rate of {r['win_rate']:.0%} against 50% (difference {r['effect']:g}) "
        f"with {r['power']:.0%} power at a two-sided {1 - r['confidence']:.0%} level; {r['note']}", highlight=False))


def _print_paired(result: dict) -> None:
    """The evidence lines of a standalone facts/refusal comparison (evaluate/report/evidence.py)."""
    from expertune.evaluate.report.evidence import CandidateEvidence, EvidenceSummary, task_metrics

    ev = EvidenceSummary(run=0, baseline=result["baseline"], candidates=[
        CandidateEvidence(candidate=c, baseline=result["baseline"],
                          metrics=task_metrics(result["kind"], result, c, n_boot=0, seed=0)) for c in result["comparisons"]])
    _print_evidence(ev.model_dump(mode="json"))


def _need_adapter(adapter: str | None) -> None:
    from expertune.errors import ConfigError

    if not adapter:
        raise ConfigError("--adapter NAME is required: the comparison is the base model against a tuned adapter "
                          "(see `expertune adapters list`)")


_AdapterOpt = typer.Option(None, "--adapter", help="The tuned adapter: a registry name, name@3 or name@current.")
_ModelOpt = typer.Option(None, "--model", help="Base model (default: the adapter's base, else the workspace's).")


@eval_app.command("facts")
def facts(
    ctx: typer.Context,
    file: str = typer.Argument(..., help="JSONL of {question, answer, aliases?}: facts the training data taught."),
    adapter: Optional[str] = _AdapterOpt,
    model: Optional[str] = _ModelOpt,
    max_new_tokens: int = typer.Option(48, "--max-new-tokens"),
    as_json: bool = JsonOpt,
) -> None:
    """Did the facts stick? Normalised match (McNemar) and reference log-probability, base vs tuned."""
    from expertune.evaluate.tasks.common import open_local_models
    from expertune.evaluate.tasks.facts import load_facts, run_facts
    from expertune.llm.base import GenParams

    ws = workspace(ctx)
    _need_adapter(adapter)
    items, info = load_facts(file, ws)
    models, _ = open_local_models(ws, model, adapter)
    result = run_facts(models, items, baseline="base", params=GenParams(max_new_tokens=max_new_tokens), info=info)
    emit(result, as_json, _print_paired)


@eval_app.command("refusal")
def refusal(
    ctx: typer.Context,
    prompts: Optional[str] = typer.Argument(None, help="JSONL of {prompt, should_refuse} (default: the bundled prompts)."),
    adapter: Optional[str] = _AdapterOpt,
    model: Optional[str] = _ModelOpt,
    max_new_tokens: int = typer.Option(48, "--max-new-tokens"),
    as_json: bool = JsonOpt,
) -> None:
    """Safety regression: refusal rates on harmful and look-alike harmless prompts, base vs tuned."""
    from expertune.evaluate.tasks.common import open_local_models
    from expertune.evaluate.tasks.refusal import load_prompts, run_refusal
    from expertune.llm.base import GenParams

    ws = workspace(ctx)
    _need_adapter(adapter)
    items, info = load_prompts(prompts, ws)
    models, _ = open_local_models(ws, model, adapter)
    result = run_refusal(models, items, baseline="base", params=GenParams(max_new_tokens=max_new_tokens), info=info)
    emit(result, as_json, _print_paired)


@eval_app.command("list")
def list_(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """List evaluation runs."""
    from expertune.evaluate.runs import list_runs

    def render(rows):
        t = Table("run", "name", "status", "candidates", "judges", "prompts", "created")
        for r in rows:
            t.add_row(f"eval-{r.id}", r.name or "", r.status, ", ".join(r.candidates),
                      ", ".join(r.judges), str(r.prompts), r.created_at[:19])
        console.print(t)

    emit(list_runs(workspace(ctx)), as_json, render)


def report(
    ctx: typer.Context,
    run_ref: str = typer.Argument(..., metavar="RUN", help="The eval run id."),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Output HTML file (default: runs/eval-<id>/report.html)."),
    samples: int = typer.Option(30, help="Comparisons shown side by side."),
    as_json: bool = JsonOpt,
) -> None:
    """Write the self-contained HTML report of an evaluation run."""
    from expertune.evaluate.report.build import write_report

    result = write_report(workspace(ctx), run_ref, out, samples=samples)
    for key, error in result["section_errors"].items():
        err_console.print(Text.assemble(("warning:", "yellow"), f" report section {key} failed: {error}"))
    emit(result, as_json, lambda r: console.print(f"wrote {r['path']} ({r['bytes'] / 1024:.0f} KiB; "
                                                  f"sections: {', '.join(r['sections'])})"))


# -- printing ------------------------------------------------------------------------------------
def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _ci(ci) -> str:
    return "–" if not ci else f"{100 * ci[0]:.0f}–{100 * ci[1]:.0f}%"


def _print_generation(r) -> None:
    if not r:
        return
    console.print(f"generation: {r['unique']} answers planned, {r['cached']} cached, {r['generated']} generated, "
                  f"{r['errors']} failed")
    for name, c in r["candidates"].items():
        if c["generated"] or c["errors"]:
            rate = c["tokens"] / c["seconds"] if c["seconds"] else 0
            console.print(f"  {name}: {c['generated']} answers, {c['tokens']} tokens in {c['seconds']:.1f}s ({rate:.1f} tokens/s)")


def _print_estimate(r) -> None:
    """Before judging starts (stderr, so --json output stays clean)."""
    pending = sum(c["pending"] for c in r["judges"].values())
    line = f"judging {pending} pending judgments: estimated ${r['estimated_usd']:.4f}"
    if r.get("budget_usd") is not None:
        line += f" (budget ${r['budget_usd']:.4f}, spent so far ${r['spent_before_usd']:.4f})"
    err_console.print(line)


def _print_judging(r) -> None:
    if not r:
        return
    if "spent_usd" not in r:  # --estimate
        _print_estimate(r)
        for name, c in r["judges"].items():
            console.print(f"  {name}: {c['planned']} judgments planned, {c['cached']} done, {c['pending']} pending")
        return
    for name, c in r["judges"].items():
        console.print(f"  {name}: {c['judged']} judged, {c['cached']} cached, {c['failed']} failed, "
                      f"{c['skipped']} skipped, ${c['cost_usd']:.4f}")
    console.print(f"judging cost ${r['spent_usd'] - r['spent_before_usd']:.4f} (run total ${r['spent_usd']:.4f})")
    if r.get("budget_stopped"):
        err_console.print(Text.assemble(("budget reached:", "yellow"), " the remaining judgments were not started; raise "
                                        "--budget and run `expertune eval judge RUN` again to finish"))


VERDICT_STYLE = {"better": "green", "worse": "red", "no detectable difference": "yellow", "not measured": "dim"}


def _num(x, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}g}" if abs(x) < 1e-3 and x else f"{x:.{digits}f}"


def _signed(x) -> str:
    return "–" if x is None else f"{x:+.3f}"


def _print_evidence(ev: EvidenceSummary | None) -> None:
    """The evidence summary (evaluate/report/evidence.py): one line per metric per candidate."""
    if not ev:
        return
    for cand in ev.candidates:
        t = Table(title=Text(f"evidence: {cand.candidate} vs {cand.baseline} (95% intervals; "
                             "detectable = smallest difference with 80% power)"), box=box.SIMPLE_HEAD, pad_edge=False)
        for header in ("metric", "detail", cand.baseline, cand.candidate, "difference", "95% CI", "verdict",
                       "detectable", "rests on"):
            t.add_column(Text(header))
        for m in cand.metrics:
            ci = m.interval
            rests = f"n={m.n} {m.unit}, {m.split}" + (f", judges: {', '.join(m.judges) or 'none reliable'}"
                                                      if m.task == "pairwise" else "")
            t.add_row(Text(m.metric), Text(m.detail), _num(m.baseline_value), _num(m.candidate_value),
                      _signed(m.estimate), "–" if not ci else f"{_signed(ci[0])} to {_signed(ci[1])}",
                      Text(m.verdict, style=VERDICT_STYLE[m.verdict]), _num(m.detectable), Text(rests + (
                          f"; {m.note}" if m.note else "")))
        console.print(t)
    for note in ev.notes:
        console.print(Text(f"  note: {note}", style="yellow"))


def _print_stats(s: RunSummary) -> None:
    c = s.counts
    console.print(Text.assemble((f"eval-{s.run.id}", "bold"), f": {c.prompts} prompts, {c.items} comparisons "
                                f"({c.missing_answers} missing an answer, {c.identical_answers} identical, "
                                f"{c.flagged_planted_verdict} flagged)"))
    val = s.checkpoint_selection
    val_pairs = [(p, f"val split, {val.note}, not held out: ") for p in val.pairs] if val else []
    for pair, prefix in [*((p, "") for p in s.pairs), *val_pairs]:
        t = Table(title=(f"{prefix}{pair.candidate} vs {pair.baseline}: win rate (ties ½), 95% interval over prompts; "
                               "LC = length-controlled; Wilson unclustered = every comparison taken as independent (too "
                               "narrow with several per prompt); 1st = first-slot preference"), box=box.SIMPLE_HEAD, pad_edge=False)
        for header in ("judge", "n", "prompts", "W/T/L", "win", "95% CI", "LC", "Wilson unclustered", "flips", "1st", "fail"):
            t.add_column(header, no_wrap=True, min_width=len(header))
        for name, j in pair.judges.items():
            o, r = j["overall"], j["reliability"]
            lc = j["length_controlled"] or {}
            t.add_row(name, str(o["n"]), str(o["prompts"]), f"{o['wins']}/{o['ties']}/{o['losses']}", _pct(o["win_rate"]),
                      _ci(o["ci"]), _pct(lc.get("win_rate")), _ci(o["wilson_unclustered"]), _pct(r["flip_rate"]),
                      _pct(r["first_position"]["first_rate"]), str(o["failed_items"]))
        p = pair.pooled["overall"]
        plc = pair.pooled["length_controlled"] or {}
        t.add_row("pooled", str(p["n"]), str(p["prompts"]), "", _pct(p["win_rate"]), _ci(p["ci"]), _pct(plc.get("win_rate")),
                  _ci(p["wilson_unclustered"]), "", "", "")
        console.print(t)
        d = pair.pooled["domain"]
        diff = d.get("difference") or {}
        console.print(f"  in-domain {_pct(d['in']['win_rate'])} {_ci(d['in']['ci'])} (n={d['in']['n']}) · "
                      f"out-of-domain {_pct(d['out']['win_rate'])} {_ci(d['out']['ci'])} (n={d['out']['n']})"
                      + (f" · difference p={diff['p_value']:.3f}" if diff else ""))
        for k in pair.agreement["pairs"]:
            kappa = "–" if k["kappa"] is None else f"{k['kappa']:.3f}"
            console.print(f"  κ {' × '.join(k['judges'])}: {kappa} (raw agreement {_pct(k['raw_agreement'])}, n={k['n']})")
        for cell in pair.pooled["grid"]:
            console.print(f"  T={cell['temperature']} max={cell['max_new_tokens']}: win rate {_pct(cell['win_rate'])} {_ci(cell['ci'])} (n={cell['n']})")
    if s.human:
        from expertune.cli.human import print_human_stats

        print_human_stats(s.human.model_dump(mode="json"))
    for cand, tr in s.truncation.items():
        console.print(f"  truncated answers of {cand}: {tr['truncated']}/{tr['answers']} ({_pct(tr['truncation_rate'])})")
    for name, f in s.failures.items():
        if f["failed_judgments"]:
            err_console.print(Text.assemble((f"{name}: {f['failed_judgments']} failed judgments", "yellow"),
                                            " (not counted): " + "; ".join(e["error"] for e in f["errors"][:2])))


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
    app.command("report")(report)
    from expertune.cli import exams, human

    exams.register(eval_app)
    human.register(eval_app)
