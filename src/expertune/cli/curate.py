"""Curation commands: check, redact, fix artefacts, datacard."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table
from rich.text import Text

from expertune.cli.common import JsonOpt, console, emit, progress_bar, workspace
from expertune.errors import InputError, prepare_output_file, user_path_errors

# The library is imported inside the commands: the checks pull in numpy, datasketch and
# matplotlib, which every other `expertune` command would otherwise pay for at start-up.

SHOWN_IDS = 10
SHOWN_MESSAGES = 3
STYLE = {"error": "bold red", "warning": "yellow", "info": "blue", "ok": "green"}

fix_app = typer.Typer(help="Fix curation findings as revisions (dry run unless --apply).", no_args_is_help=True)


def check(
    ctx: typer.Context,
    as_json: bool = JsonOpt,
    html: Optional[Path] = typer.Option(None, "--html", help="Write a browsable HTML report with the offending text highlighted."),
    fail_on: str = typer.Option("error", "--fail-on", help="Exit 1 when findings at or above this severity exist: error|warning."),
    only: Optional[str] = typer.Option(None, "--only", help="Comma-separated checks to run (default: all but the model-based confidence check)."),
    with_model: bool = typer.Option(False, "--with-model", help="Also run the model-based checks (confidence: scores every response with the base model; minutes on a CPU). On by default with checks.confidence.enabled: true in expertune.yaml."),
    dataset_version: Optional[str] = typer.Option(None, "--dataset-version", help="Check the rows of a dataset version (id, name or hash prefix) instead of the store."),
    max_length: Optional[int] = typer.Option(None, "--max-length", min=1, help="Training max length in tokens (default: checks.length.max_length)."),
) -> None:
    """Run the quality checks over accepted responses; exit 1 when findings at/above --fail-on exist."""
    if fail_on not in ("error", "warning"):
        raise InputError(f"--fail-on {fail_on!r}: expected error or warning")
    from expertune.curate.checks import model_checks
    from expertune.curate.config import load_checks_config
    from expertune.curate.html_report import write_html
    from expertune.curate.runner import checks_to_run, run_checks

    ws = workspace(ctx)
    if html:  # before the checks run: a bad path fails now, not after minutes of scoring
        prepare_output_file(html, "--html")
    config = load_checks_config(ws)
    scoring = any(n in model_checks() for n in checks_to_run(config, only, with_model=with_model))
    # Only the model-based check reports progress (on stderr): it is the one that can take minutes.
    with progress_bar("scoring responses with the base model", enabled=scoring and not as_json) as update:
        report = run_checks(ws, only=only, with_model=with_model, dataset_version=dataset_version,
                            max_length=max_length, config=config, progress=lambda what, done, total: update(done, total))
    if html:
        with user_path_errors("--html", html):
            write_html(report, html)
    data = report.as_dict()
    if html:
        data["html"] = str(html)
    emit(data, as_json, lambda _: _print_report(report, html))
    if report.at_or_above(fail_on):
        raise typer.Exit(1)


def _print_report(report, html: Path | None) -> None:
    from expertune.curate.findings import ref_label

    t = Table("check", "severity", "count", "records")
    for row in report.summary():
        labels = list(dict.fromkeys(ref_label(r) for r in row["records"]))
        shown = " ".join(labels[:SHOWN_IDS]) + (f" … (+{len(labels) - SHOWN_IDS})" if len(labels) > SHOWN_IDS else "")
        sev = row["severity"]
        t.add_row(row["check"], Text(sev, style=STYLE[sev]), str(row["count"]), shown)
    console.print(t)
    for result in report.results:
        serious = [f for f in result.findings if f.severity in ("error", "warning")]
        for f in serious[:SHOWN_MESSAGES]:
            console.print(Text.assemble((f.check, STYLE[f.severity]), " ", f.message))
        if len(serious) > SHOWN_MESSAGES:
            console.print(f"{result.check}: {len(serious) - SHOWN_MESSAGES} more (see --json or --html)", style="dim")
    total = sum(r.seconds for r in report.results)
    src = report.source
    console.print(f"{src['responses']} responses in {src['groups']} groups checked in {total:.1f} s", style="dim")
    if src.get("not_run"):
        console.print(f"not run: {', '.join(src['not_run'])} (scores every response with the base model) — pass "
                      f"--with-model, or set checks.{src['not_run'][0]}.enabled: true in expertune.yaml", style="dim")
    if html:
        console.print(Text.assemble("report: ", (str(html), "bold")))


def _print_plan(plan, what: str) -> None:
    for c in plan.changes:
        console.print(c.diff())
    d = plan.as_dict()
    items = ", ".join(f"{k} {v}" for k, v in sorted(d["items"].items()))
    if plan.applied:
        console.print(f"{what}: {d['records']} records changed ({items}); revisions written with reason "
                      f"'{plan.reason}' (undo one with `expertune response revert REVISION`)")
    elif plan.changes:
        console.print(f"dry run — {what} would change {d['records']} records ({items}); pass --apply to write them as revisions")
    else:
        console.print(f"{what}: nothing to change")


def redact(
    ctx: typer.Context,
    apply: bool = typer.Option(False, "--apply", help="Write the changes (default: show a diff only)."),
    author: Optional[str] = typer.Option(None, help="Who (default: the login name)."),
    as_json: bool = JsonOpt,
) -> None:
    """Replace personal data with typed placeholders ([EMAIL], [PHONE], ...) as revisions."""
    from expertune.curate.edits import redact as redact_data

    plan = redact_data(workspace(ctx), apply=apply, author=author or getpass.getuser())
    emit(plan.as_dict(), as_json, lambda _: _print_plan(plan, "redaction"))


@fix_app.command("artefacts")
def fix_artefacts_cmd(
    ctx: typer.Context,
    apply: bool = typer.Option(False, "--apply", help="Write the changes (default: show a diff only)."),
    author: Optional[str] = typer.Option(None, help="Who (default: the login name)."),
    as_json: bool = JsonOpt,
) -> None:
    """Strip pasted chat-export labels ("Human:", "Assistant:") and pasted user turns from responses."""
    from expertune.curate.edits import fix_artefacts

    plan = fix_artefacts(workspace(ctx), apply=apply, author=author or getpass.getuser())
    emit(plan.as_dict(), as_json, lambda _: _print_plan(plan, "artefact fix"))


def datacard(
    ctx: typer.Context,
    out: Path = typer.Option(..., "-o", "--out", help="Markdown file to write (plots go next to it)."),
    dataset_version: Optional[str] = typer.Option(None, "--dataset-version", help="Describe a dataset version instead of the store."),
    licence: str = typer.Option("unspecified", "--licence", "--license", help="Licence of the dataset."),
    checks: bool = typer.Option(True, "--checks/--no-checks", help="Run the gate checks for the Check results section."),
    as_json: bool = JsonOpt,
) -> None:
    """Write a data card (datasheet) with plots: composition, collection, preprocessing, splits, checks."""
    from expertune.curate.datacard import build_datacard

    ws = workspace(ctx)
    prepare_output_file(out, "-o")
    with user_path_errors("-o", out):
        result = build_datacard(ws, out, dataset_version=dataset_version, licence=licence, run_gate_checks=checks)
    emit(result, as_json, lambda d: console.print(Text.assemble("wrote ", (d["path"], "bold"), f" and {len(d['plots'])} plots")))


def register(app: typer.Typer) -> None:
    app.command()(check)
    app.command()(redact)
    app.add_typer(fix_app, name="fix")
    app.command()(datacard)
