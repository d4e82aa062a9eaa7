"""`expertune author`: the terminal studio, authoring sessions for scripts, chat-export import."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from expertune.cli.common import JsonOpt, console, emit, workspace
from expertune.errors import InputError

author_app = typer.Typer(help="Author training data by directing discussions with an LLM (terminal studio).",
                         invoke_without_command=True)
sessions_app = typer.Typer(help="Authoring sessions for scripts: list, show, export.", no_args_is_help=True)
author_app.add_typer(sessions_app, name="sessions")


@author_app.callback()
def studio(
    ctx: typer.Context,
    topic: Optional[str] = typer.Option(None, help="Topic of a new session (prompt groups get it)."),
    model: Optional[str] = typer.Option(None, help="Authoring model (default: the workspace base_model); with "
                                                   "--base-url the model name at that endpoint."),
    session: Optional[int] = typer.Option(None, "--session", help="Continue this session instead of starting one."),
    system: Optional[str] = typer.Option(None, help="Persona / system prompt of a new session (training text)."),
    base_url: Optional[str] = typer.Option(None, help="An OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1."),
    api_key_env: Optional[str] = typer.Option(None, help="Environment variable holding the endpoint's API key."),
    drafts: int = typer.Option(1, "--drafts", "-k", min=1, max=10, help="Drafts written per user turn."),
    max_tokens: int = typer.Option(256, help="Longest draft, in tokens."),
    template: Optional[str] = typer.Option(None, help="Structure template guiding the drafts (e.g. irac)."),
) -> None:
    """Open the terminal studio (a new session, or --session ID)."""
    if ctx.invoked_subcommand is not None:
        return
    from expertune.author import sessions as authoring
    from expertune.author.backends import backend_spec
    from expertune.author.terminal import Studio, run_repl

    ws = workspace(ctx)
    if session is None:
        spec = backend_spec(model or ws.settings.base_model, base_url=base_url, api_key_env=api_key_env)
        session = authoring.create_session(ws, backend=spec, topic=topic, system=system, template=template,
                                           params={"max_new_tokens": max_tokens})
    else:
        authoring.export_session(ws, session)  # exists?
    run_repl(Studio(ws, session, drafts=drafts))


@sessions_app.command("list")
def sessions_list(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """Every authoring session with its turn and acceptance counts."""
    from expertune.author.sessions import list_sessions

    rows = list_sessions(workspace(ctx))

    def render(rows):
        for r in rows:
            console.print(f"{r['id']:>4}  {r['source']:<9} {r['turns']:>4} turns  {r['accepted']:>3} accepted  "
                          f"{r['title'] or ''}", markup=False, highlight=False)

    emit(rows, as_json, render)


@sessions_app.command("show")
def sessions_show(ctx: typer.Context, session_id: int, as_json: bool = JsonOpt) -> None:
    """A session's current branch and its accepted answers per prompt."""
    from expertune.author.dataset import accepted_answers
    from expertune.author.sessions import export_session

    ws = workspace(ctx)
    data = export_session(ws, session_id)
    by_id = {t["id"]: t for t in data["turns"]}
    branch, at = [], data["head_id"]
    while at is not None:
        branch.append(by_id[at])
        at = by_id[at]["parent_id"]
    data = {**{k: v for k, v in data.items() if k not in ("turns", "events")}, "branch": branch[::-1],
            "prompts": accepted_answers(ws, session_id), "turn_count": len(data["turns"])}

    def render(d):
        console.print(f"session {d['id']} · {d['title'] or ''} · {d['backend'].get('model')}", markup=False, highlight=False)
        for t in d["branch"]:
            console.print(f"turn {t['id']} {t['role']} [{t['status']}]: {t['text']}", markup=False, highlight=False)
        for p in d["prompts"]:
            console.print(f"prompt turn {p['user_turn_id']}: {len(p['accepted'])} accepted of {p['drafts']} drafts",
                          markup=False, highlight=False)

    emit(data, as_json, render)


@sessions_app.command("export")
def sessions_export(ctx: typer.Context, session_id: int, out: Optional[Path] = typer.Option(None, "-o", "--out"),
                    as_json: bool = JsonOpt) -> None:
    """The whole session (every branch, draft provenance and event) as JSON."""
    import json

    from expertune.author.sessions import export_session

    data = export_session(workspace(ctx), session_id)
    if out is not None:
        out.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        emit({"session": session_id, "file": str(out)}, as_json, lambda d: console.print(f"wrote {d['file']}", markup=False))
    else:
        emit(data, True, lambda d: None)


@author_app.command("import")
def import_export(ctx: typer.Context, files: list[Path], fmt: str = typer.Option("auto", "--format",
                  help="auto|chatgpt|claude|openwebui"), topic: Optional[str] = typer.Option(None),
                  as_json: bool = JsonOpt) -> None:
    """Import chat histories (ChatGPT, Claude, Open WebUI exports) as sessions, branches kept."""
    from expertune.author.imports import import_chat_export

    if not files:
        raise InputError("give at least one export file")
    reports = [import_chat_export(workspace(ctx), f, fmt=fmt, topic=topic) for f in files]

    def render(rows):
        for r in rows:
            console.print(f"{r['file']}: {r['sessions']} sessions, {r['turns']} turns, {r['skipped']} already imported",
                          markup=False, highlight=False)
            for p in r["problems"]:
                console.print(f"  {p}", markup=False, highlight=False)

    emit(reports, as_json, render)


proposals_app = typer.Typer(help="LLM-assisted curation proposals: list, accept, reject.", no_args_is_help=True)
author_app.add_typer(proposals_app, name="proposals")


@author_app.command("propose")
def propose_cmd(
    ctx: typer.Context,
    kind: str = typer.Argument(..., help="rewrite | paraphrase | followup"),
    response: list[int] = typer.Option([], "--response", help="Response to rewrite (default: the least likely)."),
    group: list[int] = typer.Option([], "--group", help="Prompt group to paraphrase or follow up."),
    n: int = typer.Option(5, "-n", min=1, help="How many least-likely responses to propose rewrites for."),
    model: Optional[str] = typer.Option(None, help="Model writing the proposals (default: the workspace base_model)."),
    base_url: Optional[str] = typer.Option(None, help="An OpenAI-compatible endpoint for --model."),
    api_key_env: Optional[str] = typer.Option(None, help="Environment variable holding the endpoint's API key."),
    as_json: bool = JsonOpt,
) -> None:
    """Ask the model for proposals; nothing changes until you accept them."""
    from expertune.author.backends import backend_spec, open_backend
    from expertune.author.proposals import list_proposals, propose

    ws = workspace(ctx)
    backend = open_backend(backend_spec(model or ws.settings.base_model, base_url=base_url, api_key_env=api_key_env))
    ids = propose(ws, kind, backend, response_ids=response or None, group_ids=group, n=n)
    rows = [p for p in list_proposals(ws) if p["id"] in ids]
    emit(rows, as_json, _print_proposals)


def _print_proposals(rows):
    for p in rows:
        target = f"response {p['response_id']}" if p["response_id"] else f"group {p['group_id']}"
        console.print(f"proposal {p['id']} [{p['kind']}, {p['status']}] for {target}: {p['text']}",
                      markup=False, highlight=False)


@proposals_app.command("list")
def proposals_list(ctx: typer.Context, status: str = typer.Option("proposed", help="proposed|accepted|rejected|all"),
                   as_json: bool = JsonOpt) -> None:
    from expertune.author.proposals import list_proposals

    emit(list_proposals(workspace(ctx), None if status == "all" else status), as_json, _print_proposals)


@proposals_app.command("accept")
def proposals_accept(ctx: typer.Context, proposal_ids: list[int], as_json: bool = JsonOpt) -> None:
    """Apply proposals (a rewrite becomes a revision; see docs/authoring.md)."""
    from expertune.author.proposals import decide

    rows = [decide(workspace(ctx), pid, True) for pid in proposal_ids]
    emit(rows, as_json, lambda rs: [console.print(f"proposal {r['id']} accepted -> {r['result_id']}") for r in rs])


@proposals_app.command("reject")
def proposals_reject(ctx: typer.Context, proposal_ids: list[int], as_json: bool = JsonOpt) -> None:
    from expertune.author.proposals import decide

    rows = [decide(workspace(ctx), pid, False) for pid in proposal_ids]
    emit(rows, as_json, lambda rs: [console.print(f"proposal {r['id']} rejected") for r in rs])


def register(app: typer.Typer) -> None:
    app.add_typer(author_app, name="author")
