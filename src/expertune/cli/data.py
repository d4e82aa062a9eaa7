"""Commands for the dataset: init, import, split, export, snapshot, versions, stats."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table
from rich.text import Text

from expertune.cli.common import JsonOpt, console, emit, err_console, progress_bar, workspace
from expertune.errors import InputError, prepare_output_file, user_path_errors

REJECTS_SHOWN = 20


def parse_map(spec: str | None) -> dict[str, str] | None:
    if not spec:
        return None
    out = {}
    for part in spec.split(","):
        if "=" not in part:
            raise InputError(f"--map {spec!r}: expected FIELD=COLUMN pairs separated by commas, e.g. prompt=Question,response=Answer")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def init(
    directory: Path = typer.Argument(Path("."), help="Folder for the new workspace."),
    name: Optional[str] = typer.Option(None, help="Workspace name (default: the folder name)."),
    store_url: Optional[str] = typer.Option(None, "--store-url", help="SQLAlchemy URL (default: SQLite in the folder)."),
    as_json: bool = JsonOpt,
) -> None:
    """Create a workspace: expertune.yaml, the store and runs/."""
    from expertune.workspace import Workspace

    ws = Workspace.init(directory, name=name, store_url=store_url)
    emit({"workspace": str(ws.root), "store": ws.store_url}, as_json,
         lambda d: console.print(Text.assemble("workspace ready at ", (d["workspace"], "bold"))))


def import_(
    ctx: typer.Context,
    files: List[Path] = typer.Argument(..., help="Files to import."),
    fmt: str = typer.Option("auto", "--format", "-f", help="auto|messages|sharegpt|alpaca|csv|transcript|mcq"),
    topic: Optional[str] = typer.Option(None, help="Topic for records that name none."),
    status: str = typer.Option("accepted", help="Status of imported responses (accepted, draft or rejected) where a record has no \"status\" of its own."),
    column_map: Optional[str] = typer.Option(None, "--map", help="CSV columns, e.g. prompt=Question,response=Answer"),
    allow_rejects: bool = typer.Option(False, "--allow-rejects", help="Import the good records even if some lines are rejected."),
    as_json: bool = JsonOpt,
) -> None:
    """Import chat data, instruction data, transcripts or exams into the store."""
    from expertune.data.ingest import import_files

    ws = workspace(ctx)
    csv_map = parse_map(column_map)
    label = files[0].name if len(files) == 1 else f"{len(files)} files"
    with progress_bar(f"importing {label}", enabled=not as_json) as update:
        reports = import_files(ws, files, fmt=fmt, topic=topic, status=status, csv_map=csv_map,
                               allow_rejects=allow_rejects, progress=update)
    emit({"files": [r.as_dict() for r in reports]}, as_json, lambda _: _print_import(reports))
    # --allow-rejects lets bad lines go, not files that could not be read at all.
    if any(r.unreadable or (r.rejected and not allow_rejects) for r in reports):
        raise typer.Exit(2)


def _print_import(reports) -> None:
    for r in reports:
        for rej in r.rejects[:REJECTS_SHOWN]:
            where = f"{r.file}:{rej.line}" if rej.line else r.file  # line 0: the whole file
            err_console.print(f"{where}: {rej.reason}")
        if len(r.rejects) > REJECTS_SHOWN:
            err_console.print(f"... and {len(r.rejects) - REJECTS_SHOWN} more rejected lines in {r.file} (see --json)")
        console.print(Text.assemble(
            (str(r.file), "bold"),
            f" ({r.format}): read {r.read} · imported groups {r.imported_groups} · "
            f"imported responses {r.imported_responses} · rejected {r.rejected} · duplicates skipped {r.duplicates}",
        ))
    if any(r.rejects for r in reports) and not any(r.committed for r in reports):
        good = sum(r.good for r in reports)
        hint = (f" fix the problems above, or pass --allow-rejects to import the {good} good "
                f"record{'' if good == 1 else 's'} and keep the rejects on record" if good else " fix the problems above")
        err_console.print(Text.assemble(
            (f"nothing imported from {'any of the files' if len(reports) > 1 else reports[0].file}:", "red"), hint))


def split(
    ctx: typer.Context,
    val: Optional[float] = typer.Option(None, help="Share of groups for validation (default from expertune.yaml)."),
    test: Optional[float] = typer.Option(None, help="Share of groups for test."),
    seed: Optional[int] = typer.Option(None, help="Seed of the split hash."),
    stratify: Optional[str] = typer.Option(None, help="'topic' to balance splits within each topic."),
    reassign: bool = typer.Option(False, help="Reassign every group, not only new ones (moves existing groups)."),
    as_json: bool = JsonOpt,
) -> None:
    """Assign whole prompt groups to train/val/test; existing assignments are kept."""
    from expertune.data.splits import assign_splits

    report = assign_splits(workspace(ctx), val=val, test=test, seed=seed, stratify=stratify, reassign=reassign)
    emit(report.as_dict(), as_json, lambda d: console.print(
        f"assigned {d['assigned']} groups, kept {d['kept']}; now "
        + ", ".join(f"{k} {v}" for k, v in d["counts"].items())))


def export(
    ctx: typer.Context,
    fmt: str = typer.Option("messages", "--format", "-f", help="messages|prompt-completion|dpo|hf"),
    split_name: str = typer.Option("all", "--split", help="train|val|test|all"),
    out: Path = typer.Option(..., "-o", "--out", help="Output file (folder for hf)."),
    as_json: bool = JsonOpt,
) -> None:
    """Export accepted responses (one row each, group id carried), DPO pairs or a HF DatasetDict."""
    from expertune.data.export import export as export_dataset

    ws = workspace(ctx)
    if fmt != "hf":  # hf writes a folder
        prepare_output_file(out, "-o")
    with user_path_errors("-o", out):
        result = export_dataset(ws, fmt, split_name, out)
    emit(result, as_json, lambda d: console.print(f"wrote {d['rows']} rows to {d['path']}"))


def snapshot(
    ctx: typer.Context,
    name: Optional[str] = typer.Option(None, help="A name for this version."),
    note: Optional[str] = typer.Option(None, help="A note."),
    as_json: bool = JsonOpt,
) -> None:
    """Record an immutable dataset version (hash over the exported content)."""
    from expertune.data.versions import snapshot as snapshot_dataset

    v = snapshot_dataset(workspace(ctx), name=name, note=note)
    emit(v, as_json, lambda d: console.print(Text.assemble(
        f"dataset version {d['id']} ", (d["hash"][:12], "bold"),
        f" ({'new' if d['created'] else 'unchanged, existing version'}): "
        + ", ".join(f"{s} {n}" for s, n in d["counts"]["responses"].items()) + f" responses · {d['path']}")))


def versions(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """List dataset versions."""
    from expertune.data.versions import list_versions

    rows = list_versions(workspace(ctx))

    def render(rows):
        t = Table("id", "hash", "name", "train", "val", "test", "created")
        for v in rows:
            c = v["counts"]["responses"]
            t.add_row(str(v["id"]), v["hash"][:12], v["name"] or "", str(c["train"]), str(c["val"]), str(c["test"]), v["created_at"][:19])
        console.print(t)

    emit(rows, as_json, render)


def stats(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """Groups, responses, responses per prompt, topics, splits and lengths."""
    from expertune.data.stats import dataset_stats

    emit(dataset_stats(workspace(ctx)), as_json, _print_stats)


def _print_stats(s: dict) -> None:
    if not s["groups"]:
        console.print("no data yet: import some with `expertune import FILE` (chat, instruction, transcript or exam files)")
        return
    console.print(Text.assemble((str(s["groups"]), "bold"), f" prompt groups ({s['mcq_groups']} multiple-choice), "
                                "responses: " + ", ".join(f"{k} {v}" for k, v in sorted(s["responses"].items()))))
    console.print("responses per prompt: " + ", ".join(f"{k}×{v}" for k, v in s["responses_per_prompt"].items()))
    for title, key in (("topic", "topics"), ("split", "splits")):
        t = Table(title, "groups", "accepted responses")
        for name, c in s[key].items():
            t.add_row(name, str(c.get("groups", 0)), str(c.get("responses", 0)))
        console.print(t)
    for label, key in (("response", "response_chars"), ("prompt", "prompt_chars")):
        p = s[key]
        if p:
            console.print(f"{label} length (chars): min {p['min']} · median {p['p50']:.0f} · p90 {p['p90']:.0f} · max {p['max']}")


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command("import")(import_)
    app.command()(split)
    app.command()(export)
    app.command()(snapshot)
    app.command()(versions)
    app.command()(stats)
