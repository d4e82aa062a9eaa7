"""`expertune eval human RUN --name NAME`: blind A/B judging by a domain expert in the terminal.

One key per decision: A or B (the better answer), T (tie), S (score the criteria), N (a note),
Q (stop; starting again resumes). The logic — which comparisons, in which order, under which
labels, and storing the verdict — is evaluate/pairwise/human.py's, shared with the studio; this module
only shows and reads. Answers are printed as plain text, never as markup.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer
from rich.panel import Panel
from rich.text import Text

from expertune.cli.common import JsonOpt, console, emit, workspace

KEYS = "A/B: better answer · T: tie · S: scores · N: note · Q: stop"


def human(
    ctx: typer.Context,
    run_ref: str = typer.Argument(..., metavar="RUN", help="The eval run id."),
    name: str = typer.Option(..., "--name", help="Who is judging (stored as judge human:NAME)."),
    sample: Optional[int] = typer.Option(None, "--sample", help="Judge only N comparisons (kept for later sessions)."),
    prefer: Optional[str] = typer.Option(None, "--prefer", help="How to pick the sample: random (default) or "
                                                               "disagreement (where the LLM judges disagree most)."),
) -> None:
    """Judge a run's comparisons blind: two answers under neutral labels, the better one or a tie."""
    from expertune.errors import ConfigError
    from expertune.evaluate.pairwise.human import next_comparison, progress, record_human_judgment, start_human_session

    if not sys.stdin.isatty():
        raise ConfigError("eval human reads single keys from a terminal; run it in one (or use the studio's review page)")
    session = start_human_session(workspace(ctx), run_ref, name, sample=sample, prefer=prefer)
    labels = session.labels
    while (shown := next_comparison(session)) is not None:
        _show(shown)
        note, scores = None, {}
        while True:
            key = _key(f"[{shown.position}/{shown.total}] {KEYS}")
            if key in ("a", "b"):
                verdict = labels[0 if key == "a" else 1]
            elif key == "t":
                verdict = "tie"
            elif key == "n":
                note = input("note: ")
                continue
            elif key == "s":
                scores = _scores(shown)
                continue
            elif key in ("q", "\x03", "\x04"):
                _stopped(progress(session))
                return
            else:
                continue
            record_human_judgment(session, shown.comparison_id, verdict, scores=scores, note=note)
            console.print(Text.assemble("recorded ", (verdict, "bold")))
            break
    p = progress(session)
    console.print(Text.assemble(("done: ", "bold green"), f"{p['done']} of {p['total']} comparisons judged by {name}"))


def _key(prompt: str) -> str:
    console.print(Text(prompt, style="bold cyan"))
    try:
        return typer.getchar().lower()
    except (KeyboardInterrupt, EOFError):
        return "q"


def _show(shown) -> None:
    console.rule(Text(f"comparison {shown.position} of {shown.total}"))
    for m in shown.conversation:
        console.print(Text.assemble((f"{m['role']}: ", "bold"), m["content"]))
    for label, answer in shown.answers.items():
        console.print(Panel(Text(answer), title=Text(f"Answer {label}"), title_align="left"))


def _scores(shown) -> dict[str, dict[str, int]]:
    """One key per criterion and answer: a digit on the scale, anything else skips it."""
    low, high = shown.scale
    out: dict[str, dict[str, int]] = {}
    for label in shown.labels:
        for criterion in shown.criteria:
            key = _key(f"{criterion} of answer {label}: {low}-{high}, other key to skip")
            if key.isdigit() and low <= int(key) <= high:
                out.setdefault(label, {})[criterion] = int(key)
    return out


def _stopped(p: dict[str, int]) -> None:
    console.print(f"stopped: {p['done']} of {p['total']} judged; run the same command again to continue")


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _interval(ci, pct: bool = True) -> str:
    if not ci:
        return "–"
    return f"[{_pct(ci[0])}, {_pct(ci[1])}]" if pct else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def print_human_stats(h: dict) -> None:
    """Human win rates, each LLM judge's agreement with the humans and its validity verdict."""
    for pair in h["pairs"]:
        console.print(Text(f"humans: {pair['candidate']} vs {pair['baseline']} (blind, one order each; ties ½; "
                           "95% interval over prompts)", style="bold"))
        for name, s in pair["humans"].items():
            console.print(f"  human:{name}: win rate {_pct(s['win_rate'])} {_interval(s['ci'])} "
                          f"({s['wins']}/{s['ties']}/{s['losses']} W/T/L, n={s['n']}, {s['notes']} notes)")
        for j in pair["judge_validity"]:
            kappa = "–" if j["kappa"] is None else f"{j['kappa']:.3f}"
            console.print(f"  judge {j['judge']} vs humans: κ {kappa} {_interval(j['kappa_ci'], pct=False)}, raw agreement "
                          f"{_pct(j['raw_agreement'])} (n={j['n']}) — {j['validity']}")
        for a in pair["human_agreement"]:
            kappa = "–" if a["kappa"] is None else f"{a['kappa']:.3f}"
            console.print(f"  κ {' × '.join(a['humans'])}: {kappa} {_interval(a['kappa_ci'], pct=False)} (n={a['n']})")


def human_stats(
    ctx: typer.Context,
    run_ref: str = typer.Argument(..., metavar="RUN", help="The eval run id."),
    as_json: bool = JsonOpt,
) -> None:
    """Human win rates, LLM judges' agreement with the humans (κ with intervals), judge validity."""
    from expertune.evaluate.pairwise.human_stats import human_summary

    emit(human_summary(workspace(ctx), run_ref), as_json, print_human_stats)


def register(eval_app: typer.Typer) -> None:
    """Add `eval human` and `eval human-stats` to the eval group (cli/evaluate.py prints these stats too)."""
    eval_app.command("human")(human)
    eval_app.command("human-stats")(human_stats)
