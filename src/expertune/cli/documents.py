"""`expertune docs add|remove|list|search` and `expertune templates list|show|check`: the expert's documents
for grounding and the answer-structure templates used while authoring.

User text (file names, titles, passages, template parts) is printed as rich `Text`, never as markup.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import typer
from rich.table import Table
from rich.text import Text

from expertune.cli.common import JsonOpt, console, emit, err_console, workspace
from expertune.errors import InputError

docs_app = typer.Typer(help="Index the expert's documents (Markdown, text, HTML, PDF) for grounding.", no_args_is_help=True)
templates_app = typer.Typer(help="Answer-structure templates (IRAC, answer then reasons, ...).", no_args_is_help=True)


@docs_app.command("add")
def docs_add(ctx: typer.Context, paths: List[Path] = typer.Argument(..., help="Files or folders (searched recursively)."),
             as_json: bool = JsonOpt) -> None:
    """Index documents. Unchanged files are skipped; exit 2 if a file could not be read (the rest is indexed)."""
    from expertune.author.documents import add_documents

    report = add_documents(workspace(ctx), paths)

    def render(r):
        console.print(Text(f"added {len(r.added)}, updated {len(r.updated)}, unchanged {len(r.unchanged)}, "
                           f"failed {len(r.failed)}: {r.documents} documents, {r.chunks} passages in the index"))
        if r.skipped:
            console.print(Text(f"skipped {len(r.skipped)} files of other types in the folders given"), style="dim")

    emit(report.model_dump(), as_json, lambda _: render(report))
    for failed in report.failed:
        err_console.print(Text(str(failed)), style="red", soft_wrap=True)
    if report.failed:
        raise typer.Exit(2)


@docs_app.command("remove")
def docs_remove(ctx: typer.Context, paths: List[Path] = typer.Argument(..., help="Indexed files, or folders of them."),
                as_json: bool = JsonOpt) -> None:
    """Take documents out of the index (the files are not touched). Exit 2 if a path was not indexed."""
    from expertune.author.documents import remove_documents

    report = remove_documents(workspace(ctx), paths)
    emit(report.model_dump(), as_json, lambda r: console.print(Text(
        f"removed {len(r['removed'])}: {r['documents']} documents, {r['chunks']} passages in the index")))
    for failed in report.failed:
        err_console.print(Text(str(failed)), style="red", soft_wrap=True)
    if report.failed:
        raise typer.Exit(2)


@docs_app.command("list")
def docs_list(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """List the indexed documents."""
    from expertune.author.documents import list_documents

    docs = list_documents(workspace(ctx))

    def render(_):
        table = Table("title", "kind", "passages", "path")
        for d in docs:
            table.add_row(Text(d.title), d.kind, str(d.chunks), Text(d.path))
        console.print(table)
        if not docs:
            console.print("no documents yet: `expertune docs add PATH...`", markup=False)

    emit([d.model_dump() for d in docs], as_json, render)


@docs_app.command("search")
def docs_search(ctx: typer.Context, query: str, k: int = typer.Option(5, "-k", min=1, help="How many passages."),
                as_json: bool = JsonOpt) -> None:
    """The passages most relevant to QUERY (BM25), best first."""
    from expertune.author.documents import search_passages

    passages = search_passages(workspace(ctx), query, k=k)

    def render(_):
        if not passages:
            console.print("no passage shares a word with the query", markup=False)
        for i, p in enumerate(passages, 1):
            where = f"{p.doc_path}" + (f", page {p.page}" if p.page is not None else "")
            console.print(Text.assemble((f"{i}. ", "bold"), (p.title or Path(p.doc_path).name, "bold"),
                                        f"  ({where}, passage {p.chunk_index}, score {p.score:.2f})"))
            console.print(Text(p.text), soft_wrap=True)
            console.print()

    emit([p.model_dump() for p in passages], as_json, render)


@templates_app.command("list")
def templates_list(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """List structure templates: the builtins and the workspace's templates/*.yaml."""
    from expertune.author.templates import load_templates

    templates = load_templates(_workspace_or_none(ctx))

    def render(_):
        table = Table("name", "parts", "description")
        for t in templates.values():
            table.add_row(Text(t.name), Text(", ".join(p.name for p in t.parts)), Text(t.description))
        console.print(table)

    emit([t.model_dump() for t in templates.values()], as_json, render)


@templates_app.command("show")
def templates_show(ctx: typer.Context, name: str, as_json: bool = JsonOpt) -> None:
    """Show a template and the guidance it gives the authoring model."""
    from expertune.author.templates import get_template

    template = get_template(_workspace_or_none(ctx), name)
    emit({**template.model_dump(), "guidance": template.guidance()}, as_json,
         lambda d: console.print(Text(d["guidance"]), soft_wrap=True))


@templates_app.command("check")
def templates_check(ctx: typer.Context, name: str, file: Path, as_json: bool = JsonOpt) -> None:
    """Which parts of template NAME the text in FILE shows. Exit 1 if a part is missing."""
    from expertune.author.templates import check_structure, get_template

    template = get_template(_workspace_or_none(ctx), name)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{file}: cannot read the text ({getattr(err, 'strerror', None) or err})") from None
    report = check_structure(template, text)

    def render(_):
        for part in template.parts:
            ok = part.name in report.present
            console.print(Text.assemble(("✓ " if ok else "✗ ", "green" if ok else "red"), part.name,
                                        ("" if ok else f" — missing: {part.hint}" if part.hint else " — missing")))

    emit(report.model_dump(), as_json, render)
    if report.missing:
        raise typer.Exit(1)


def _workspace_or_none(ctx: typer.Context):
    """Templates work outside a workspace too (builtins only)."""
    from expertune.errors import WorkspaceNotFound

    try:
        return workspace(ctx)
    except WorkspaceNotFound:
        if (ctx.obj or {}).get("workspace"):
            raise
        return None


def register(app: typer.Typer) -> None:
    app.add_typer(docs_app, name="docs")
    app.add_typer(templates_app, name="templates")
