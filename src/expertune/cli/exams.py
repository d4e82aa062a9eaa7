"""`expertune eval mcq|classify|perplexity|forgetting`: exams, labelled tasks, held-out NLL and the
forgetting check. Handlers parse options, call evaluate/tasks/standalone.py and print."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.table import Table
from rich.text import Text

from expertune.cli.common import (
    JsonOpt,
    console,
    emit,
    err_console,
    progress_bar,
    workspace,
)
from expertune.errors import WorkspaceNotFound, user_path_errors

ModelOpt = typer.Option(None, "--model", "-m", help="Base model (default: the adapter's base, else the workspace's base_model).")
AdapterOpt = typer.Option(None, "--adapter", help="Registered adapter: NAME, NAME@VERSION or NAME@current.")
AdapterPathOpt = typer.Option(None, "--adapter-path", help="A PEFT adapter folder (with its tokenizer files).")
TunedOnlyOpt = typer.Option(False, "--tuned-only", help="With an adapter, skip the base model (no comparison).")
RunOpt = typer.Option(None, "--run", help="Write into this run folder (e.g. runs/eval-ID) instead of a new one.")
SeedOpt = typer.Option(0, "--seed", help="Seed for few-shot choice and bootstrap intervals.")


# -- shared plumbing -------------------------------------------------------------------------------
def _workspace(ctx: typer.Context, *, required: bool):
    try:
        return workspace(ctx)
    except WorkspaceNotFound:
        if required:
            raise
        return None


def _models_view(result: dict[str, Any]) -> dict[str, Any]:
    return {label: {"model": res.get("model"), **({"info": res["info"]} if res.get("info") else {}),
                    "summary": res.get("summary")} for label, res in result.get("models", {}).items()}


def _pct(p: Any) -> str:
    """Compact for terminal tables: "62% (31–86)"; --json has the exact numbers. `p`: a
    results.Proportion, or the proportion dict of a block not typed yet."""
    if p is not None and not isinstance(p, dict):
        p = p.model_dump()
    if not p or p.get("value") is None:
        return "–"
    lo, hi = p["ci"]
    return f"{100 * p['value']:.0f}% ({100 * lo:.0f}–{100 * hi:.0f})"


# -- mcq -------------------------------------------------------------------------------------------
def mcq_cmd(
    ctx: typer.Context,
    exam: str = typer.Argument(..., help="Exam JSONL file or registered eval set (kind mcq)."),
    model: Optional[str] = ModelOpt,
    adapter: Optional[str] = AdapterOpt,
    adapter_path: Optional[Path] = AdapterPathOpt,
    tuned_only: bool = TunedOnlyOpt,
    formats: Optional[str] = typer.Option(None, "--formats", help="Comma-separated SHOTS-ORDER-STYLE formats or 'all' "
                                          "(default: zero-answer-json,few-answer-markdown,zero-explain-list)."),
    permutations: bool = typer.Option(False, "--permutations", help="Also ask every cyclic shift of the options (bias check)."),
    scoring: str = typer.Option("generate", "--scoring", help="generate | logprob | both"),
    shots_from: Optional[str] = typer.Option(None, "--shots-from", help="Few-shot examples: an exam file or eval set "
                                             "(default: the workspace's train-split multiple-choice groups)."),
    shots: int = typer.Option(3, "--shots", help="Examples per few-shot prompt."),
    max_new_tokens: int = typer.Option(192, "--max-new-tokens"),
    limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N questions (quick checks)."),
    seed: int = SeedOpt,
    run: Optional[Path] = RunOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Multiple-choice exam: formats, answer extraction, option bias, log-prob scoring, base vs tuned."""
    from expertune.evaluate.tasks.standalone import run_mcq

    def note(text: str) -> None:
        if not as_json:
            err_console.print(Text.assemble(("note:", "yellow"), f" {text}"))

    ws = _workspace(ctx, required=run is None)
    with progress_bar("answering", enabled=not as_json) as update:
        result, path = run_mcq(ws, exam, model=model, adapter=adapter, adapter_path=adapter_path, tuned_only=tuned_only,
                               formats=formats, permutations=permutations, scoring=scoring, shots_from=shots_from,
                               shots=shots, max_new_tokens=max_new_tokens, limit=limit, seed=seed, run=run, on_note=note,
                               progress=lambda label: update)
    out = {"kind": "mcq", "path": str(path), "exam": result["exam"], "config": result["config"],
           "models": _models_view(result), "baseline": result["baseline"], "comparisons": result["comparisons"]}
    emit(out, as_json, _print_mcq)


def _print_mcq(d: dict[str, Any]) -> None:
    t = Table("model", "format", "accuracy", "adherence", "consistency", "sd recall/letter", "agrees w/ log-prob")
    from expertune.evaluate.results import McqFormatSummary

    for label, m in d["models"].items():
        for fmt, raw in m["summary"].items():
            s = McqFormatSummary.model_validate(raw)
            t.add_row(label, fmt, _pct(s.accuracy), _pct(s.adherence), _pct(s.consistency),
                      f"{s.letter_recall_std:.3f}" if s.letter_recall_std is not None else "–",
                      _pct(s.logprob_agreement))
    console.print(t)
    _print_comparisons(d)
    console.print(f"results: {d['path']}")


def _print_comparisons(d: dict[str, Any]) -> None:
    from expertune.evaluate.results import McNemarTest

    for label, per in (d.get("comparisons") or {}).items():
        for mode, c in per.items():
            mc = McNemarTest.model_validate(c["mcnemar"])
            console.print(f"{mode}: {d['baseline']} {c['base_accuracy']:.3f} → {label} {c['tuned_accuracy']:.3f} "
                          f"(McNemar {mc.method}, p = {mc.p_value:.4f})")


# -- classify --------------------------------------------------------------------------------------
def classify_cmd(
    ctx: typer.Context,
    task: str = typer.Argument(..., help="Task JSONL of {text, label, split?} or registered eval set (kind classify)."),
    model: Optional[str] = ModelOpt,
    adapter: Optional[str] = AdapterOpt,
    adapter_path: Optional[Path] = AdapterPathOpt,
    tuned_only: bool = TunedOnlyOpt,
    scoring: str = typer.Option("generate", "--scoring", help="generate | logprob | both"),
    export_training: Optional[Path] = typer.Option(None, "--export-training", help="Only write the train-split items as "
                                                   "chat records (label as the answer) to this JSONL, then stop."),
    max_new_tokens: int = typer.Option(16, "--max-new-tokens"),
    limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N evaluation items."),
    seed: int = SeedOpt,
    run: Optional[Path] = RunOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Classification task: constrained label parsing, per-class metrics, confusion matrix."""

    from expertune.evaluate.tasks import classify
    from expertune.evaluate.tasks.standalone import run_classify

    if export_training is not None:
        ws = _workspace(ctx, required=False)
        with user_path_errors("--export-training", export_training):
            out = classify.export_training(task, export_training, ws)
        emit(out, as_json, lambda d: console.print(f"wrote {d['rows']} training records to {d['path']}"))
        return
    ws = _workspace(ctx, required=run is None)
    with progress_bar("classifying", enabled=not as_json) as update:
        result, path = run_classify(ws, task, model=model, adapter=adapter, adapter_path=adapter_path, tuned_only=tuned_only,
                                    scoring=scoring, max_new_tokens=max_new_tokens, limit=limit, seed=seed, run=run,
                                    progress=lambda label: update)
    emit({"kind": "classify", "path": str(path), "task": result["task"], "models": _models_view(result),
          "baseline": result["baseline"], "comparisons": result["comparisons"]}, as_json, _print_classify)


def _print_classify(d: dict[str, Any]) -> None:
    from expertune.evaluate.report.html import fmt_num
    from expertune.evaluate.results import ClassifySummary

    for label, m in d["models"].items():
        summary = ClassifySummary.model_validate(m["summary"])
        for mode, s in summary.by_scoring().items():
            console.print(Text.assemble((label, "bold"), f" ({mode}): accuracy {_pct(s.accuracy)}, macro F1 "
                                        f"{fmt_num(s.macro.f1)}, invalid {_pct(s.invalid)}"))
            t = Table("gold \\ predicted", *s.confusion.columns)
            for lab, row in zip(s.confusion.labels, s.confusion.matrix):
                t.add_row(lab, *map(str, row))
            console.print(t)
        if summary.agreement is not None:
            console.print(f"{label}: generated vs log-prob agreement {summary.agreement.k}/{summary.agreement.n}")
    _print_comparisons(d)
    console.print(f"results: {d['path']}")


# -- perplexity ------------------------------------------------------------------------------------
def perplexity_cmd(
    ctx: typer.Context,
    model: Optional[str] = ModelOpt,
    adapter: Optional[str] = AdapterOpt,
    adapter_path: Optional[Path] = AdapterPathOpt,
    tuned_only: bool = TunedOnlyOpt,
    splits: str = typer.Option("test", "--splits", help="Splits of the workspace to score: test is held out; val (used "
                               "for checkpoint selection) and train are reported as separate sets."),
    heldout: bool = typer.Option(True, "--heldout/--no-heldout", help="Score the held-out groups of the workspace."),
    ood: Optional[List[str]] = typer.Option(None, "--ood", help="Out-of-domain set (file or eval set); repeatable."),
    max_new_tokens: int = typer.Option(128, "--max-new-tokens", help="Length of base-generated references for sets without answers."),
    seed: int = SeedOpt,
    run: Optional[Path] = RunOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Held-out NLL/perplexity of accepted answers under base and tuned, paired per prompt group."""
    from expertune.evaluate.tasks.standalone import run_perplexity

    ws = _workspace(ctx, required=heldout or run is None)
    with progress_bar("scoring", enabled=not as_json) as update:
        result, path = run_perplexity(ws, model=model, adapter=adapter, adapter_path=adapter_path, tuned_only=tuned_only,
                                      splits=[s.strip() for s in splits.split(",") if s.strip()], heldout=heldout,
                                      ood=ood or [], max_new_tokens=max_new_tokens, seed=seed, run=run,
                                      progress=lambda label: update)
    emit({"kind": "perplexity", "path": str(path), "models": result["models"],
          "sets": {name: e["summary"] for name, e in result["sets"].items()}}, as_json, _print_perplexity)


def _print_perplexity(d: dict[str, Any]) -> None:
    from expertune.evaluate.report.html import fmt_num
    from expertune.evaluate.results import PerplexitySetSummary

    sets = {name: PerplexitySetSummary.model_validate(s) for name, s in d["sets"].items()}
    t = Table("set", "model", "groups", "tokens", "NLL/token", "perplexity")
    for name, s in sets.items():
        for label, m in s.models.items():
            t.add_row(name, label, str(m.n_groups), str(m.n_tokens), fmt_num(m.nll_per_token), fmt_num(m.perplexity, 2))
    console.print(t)
    for name, s in sets.items():
        for label, diff in s.differences.items():
            if diff.t.mean is not None:
                lo, hi = diff.bootstrap.ci
                console.print(f"{name}: {label} − {s.baseline} = {diff.t.mean:+.3f} nats/token per group "
                              f"(95% bootstrap [{fmt_num(lo)}, {fmt_num(hi)}], {diff.n_groups} groups)")
    console.print(f"results: {d['path']}")


# -- forgetting ------------------------------------------------------------------------------------
def forgetting_cmd(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="A general set: exam, labelled task or prompts (file or eval set)."),
    model: Optional[str] = ModelOpt,
    adapter: Optional[str] = AdapterOpt,
    adapter_path: Optional[Path] = AdapterPathOpt,
    margin_accuracy: float = typer.Option(0.02, "--margin-accuracy", help="Allowed accuracy drop (0.02 = 2 points)."),
    margin_nll: float = typer.Option(0.1, "--margin-nll", help="Allowed NLL rise in nats per token."),
    scoring: str = typer.Option("logprob", "--scoring", help="Exams: logprob (fast, no parsing) or generate."),
    max_new_tokens: int = typer.Option(128, "--max-new-tokens"),
    run: Optional[Path] = RunOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Forgetting check: base vs tuned on a general set, flagged beyond a margin."""
    from expertune.evaluate.tasks.standalone import run_forgetting_check

    ws = _workspace(ctx, required=False)  # the check says what it misses, the adapter before the workspace
    with progress_bar("checking", enabled=not as_json) as update:
        result, path = run_forgetting_check(ws, source, model=model, adapter=adapter, adapter_path=adapter_path,
                                            margin_accuracy=margin_accuracy, margin_nll=margin_nll, scoring=scoring,
                                            max_new_tokens=max_new_tokens, run=run, progress=lambda label: update)
    emit({"kind": "forgetting", "path": str(path), "source": result["source"], "set_kind": result["set_kind"],
          "baseline": result["baseline"], "flagged": result["flagged"], "verdicts": result["verdicts"]},
         as_json, _print_forgetting)


def _print_forgetting(d: dict[str, Any]) -> None:
    for label, v in d["verdicts"].items():
        what = "accuracy" if v["metric"] == "accuracy" else "NLL/token"
        line = (f"{d['source'].get('name')}: {what} {d['baseline']} {v['base']:.3f} → {label} {v['tuned']:.3f} "
                f"(margin {v['margin']})")
        if v["flagged"]:
            err_console.print(Text.assemble(("possible forgetting", "bold red"), f" — {line}"))
        else:
            console.print(Text.assemble(("no drop beyond the margin", "green"), f" — {line}"))
    console.print(f"results: {d['path']}")


def register(eval_app: typer.Typer) -> None:
    eval_app.command("mcq")(mcq_cmd)
    eval_app.command("classify")(classify_cmd)
    eval_app.command("perplexity")(perplexity_cmd)
    eval_app.command("forgetting")(forgetting_cmd)
