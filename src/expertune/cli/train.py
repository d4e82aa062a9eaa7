"""Commands for base models, training and the adapter registry."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer
from rich.table import Table
from typer.core import TyperGroup
from rich.text import Text

from expertune.cli.common import JsonOpt, SetOpt, console, emit, workspace
from expertune.errors import InputError, user_path_errors

if TYPE_CHECKING:
    from expertune.records import AdapterRow, DpoRun, SftRun

models_app = typer.Typer(help="Base models: list, pull (convert and cache), info.", no_args_is_help=True)
adapters_app = typer.Typer(help="The adapter registry: list, show, promote, rollback, merge, export.", no_args_is_help=True)


@models_app.command("list")
def models_list(as_json: bool = JsonOpt) -> None:
    """Builtin models and whether their packages are installed."""
    import importlib.util

    from expertune.models.builtin import BUILTINS

    rows = [{"name": f"builtin:{b.name}", "package": b.package, "installed": importlib.util.find_spec(b.module) is not None,
             "install": b.install, "description": b.description} for b in BUILTINS.values()]

    def render(rows):
        t = Table("name", "installed", "description", "install with")
        for r in rows:
            t.add_row(r["name"], "yes" if r["installed"] else "no", r["description"], r["install"])
        console.print(t)
        console.print("Also accepted anywhere a model is named: a local Hugging Face folder, a .gguf file, or a hub id.")

    emit(rows, as_json, render)


@models_app.command("pull")
def models_pull(name: str, as_json: bool = JsonOpt) -> None:
    """Resolve a model and build its cache (GGUF weights are dequantised once to safetensors)."""
    from expertune.models import resolve

    emit(resolve(name).as_dict(), as_json, lambda d: console.print(f"{d['name']} ready at {d['path']}"))


@models_app.command("info")
def models_info(name: str, as_json: bool = JsonOpt) -> None:
    """Architecture, parameters, context length and chat template source."""
    from expertune.models import model_info

    def render(d):
        for k in ("name", "architecture", "parameters", "context_length", "vocab_size", "eos_token",
                  "chat_template_source", "path", "sha256"):
            value = f"{d[k]:,}" if k == "parameters" and d[k] else d[k]
            console.print(Text.assemble((f"{k:>22}", "bold"), f" {value}"))

    emit(model_info(name), as_json, render)


class _RecipeGroup(TyperGroup):
    """`train audit RECIPE` and `train dpo` are sub-commands; any other first word (or none) is the
    recipe of `train run`, so `expertune train RECIPE` keeps working."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = ["run", *args]
        return super().parse_args(ctx, args)


train_app = typer.Typer(cls=_RecipeGroup, help="Train a recipe on the curated dataset (`train RECIPE` = `train run RECIPE`), "
                        "audit what it will train on, or continue an adapter with DPO.")


@train_app.command("run")
def train_cmd(
    ctx: typer.Context,
    recipe: Optional[str] = typer.Argument(None, help="A preset (cpu-quick, brie-lora, qlora, full) or a recipe YAML file."),
    overrides: Optional[List[str]] = SetOpt,
    dataset_version: Optional[str] = typer.Option(None, "--dataset-version", help="Version id, name or hash (default: snapshot the current data)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the last unfinished run (or --run) from its last checkpoint."),
    run: Optional[str] = typer.Option(None, "--run", help="Run id to resume (`--resume RUN` works too)."),
    launcher: str = typer.Option("none", help="none | accelerate (multi-process / multi-GPU / multi-node)."),
    num_processes: Optional[int] = typer.Option(None, "--num-processes", help="Processes for --launcher accelerate (default: the accelerate config's, else 1)."),
    accelerate_config: Optional[Path] = typer.Option(None, "--accelerate-config", help="accelerate config (DeepSpeed/FSDP); see docs/distributed.md."),
    allow: Optional[List[str]] = typer.Option(None, "--allow", help="Train despite a failing gate check (or 'audit'); repeatable."),
    no_promote: bool = typer.Option(False, "--no-promote", help="Register the adapter without making it current."),
    from_ref: Optional[str] = typer.Option(None, "--from", help="Continue this SFT adapter with DPO (as `train dpo`)."),
    as_json: bool = JsonOpt,
) -> None:
    """Train RECIPE on the curated dataset and register the adapter; `expertune train audit RECIPE` inspects first."""
    if from_ref:
        return dpo_cmd(ctx, recipe or "dpo", from_ref, overrides, allow, no_promote, as_json)
    if resume and recipe:  # `train --resume RUN`: a run resumes with its own recipe, so the argument names the run
        if run and run != recipe:
            raise InputError(f"--resume {recipe} --run {run}: name one run to resume")
        run = recipe
    from expertune.train.run import resume_hint, train

    record = train(workspace(ctx), recipe, overrides, dataset_version=dataset_version, resume=resume, run_id=run,
                   launcher=launcher, num_processes=num_processes, allow=allow or (), promote=not no_promote,
                   show_progress=not as_json, accelerate_config=accelerate_config)

    def render(r: SftRun):
        if r.status != "completed":
            console.print(f"run {r.id} {r.status} at step {r.steps}; resume with `{resume_hint(r.id)}`")
            return
        console.print(Text.assemble("run ", (r.id, "bold"), f": {r.steps} steps, best step {r.best_step} "
                                    f"(val loss {r.best_eval_loss}), {r.trained_tokens} tokens at "
                                    f"{r.tokens_per_second} tok/s, {r.wall_seconds} s"))
        console.print(Text.assemble("registered adapter ", (r.adapter.ref, "bold"), f" at {r.adapter.path}"))

    emit(record, as_json, render)


@train_app.command("dpo")
def dpo_cmd(
    ctx: typer.Context,
    recipe: str = typer.Argument("dpo", help="The DPO recipe: the dpo preset (default) or a recipe YAML file."),
    from_ref: Optional[str] = typer.Option(None, "--from", help="The SFT adapter to continue on preference pairs, e.g. demo@current."),
    overrides: Optional[List[str]] = SetOpt,
    allow: Optional[List[str]] = typer.Option(None, "--allow", help="Train despite a failing gate check (or 'audit'); repeatable."),
    no_promote: bool = typer.Option(False, "--no-promote", help="Register the adapter without making it current."),
    as_json: bool = JsonOpt,
) -> None:
    """Train an SFT adapter further on the expert's preferences (DPO, train/dpo.py)."""
    from expertune.train.dpo import train_dpo

    if not from_ref:
        raise InputError("expertune train dpo needs the SFT adapter to start from: --from NAME@current (see `adapters list`)")
    record = train_dpo(workspace(ctx), from_ref, recipe, overrides, allow=allow or (), promote=not no_promote,
                       show_progress=not as_json)

    def render(r: DpoRun):
        m = r.margins
        console.print(Text.assemble("run ", (r.id, "bold"), f": DPO from {from_ref}, {r.pairs.train} pairs, "
                                    f"{r.steps} steps, {r.wall_seconds} s"))
        if m.pairs:
            lo, hi = m.change_ci
            console.print(f"held-out margin (log P preferred − log P other): {m.before:.3f} → {m.after:.3f}, "
                          f"change {m.change:+.3f} [{lo:+.3f}, {hi:+.3f}] over {m.groups} prompt groups "
                          f"({m.pairs} pairs, {m.improved_pairs} improved)")
        console.print(Text.assemble("registered adapter ", (r.adapter.ref, "bold"), f" at {r.adapter.path}"))

    emit(record, as_json, render)


@train_app.command("audit")
def audit_cmd(
    ctx: typer.Context,
    recipe: str = typer.Argument(..., help="A preset or a recipe YAML file, as for `expertune train`."),
    overrides: Optional[List[str]] = SetOpt,
    dataset_version: Optional[str] = typer.Option(None, "--dataset-version", help="Version id, name or hash (default: snapshot the current data)."),
    n: int = typer.Option(5, "-n", help="Examples to show with trained/masked tokens marked."),
    as_json: bool = JsonOpt,
) -> None:
    """Render examples exactly as the trainer will and show which tokens are trained."""
    from expertune.train.audit import audit_recipe

    report, r = audit_recipe(workspace(ctx), recipe, overrides, dataset_version=dataset_version, n_samples=n)
    data = report.as_dict()

    def render(d):
        for s in d["samples"]:
            console.print(Text.assemble((f"example {s['index']}", "bold"),
                                        f" (response {s['response_id']}): {s['tokens']} tokens, {s['trained']} trained"))
            text = Text()
            for seg in s["segments"]:
                text.append(seg["text"], style="bold green" if seg["trained"] else "dim")
            console.print(text)
            console.print()
        console.print(Text.assemble(("dim = masked (prompt), ", "dim"), ("green = trained (answer + end-of-turn)", "bold green")))
        console.print(f"template: {d['template_source']} · EOS {d['eos_token']!r} · max_length {d['max_length']}")
        for split, p in d["token_lengths"].items():
            if p:
                console.print(f"{split}: {d['examples'][split]} examples, {d['trained_tokens'][split]} trained tokens; "
                              f"length min {p['min']} · p50 {p['p50']:.0f} · p90 {p['p90']:.0f} · max {p['max']}")
        console.print(f"EOS trained in every complete example: {'yes' if not d['eos_not_trained'] else 'NO'}")
        for e in d["errors"]:
            console.print(Text.assemble(("error:", "red"), f" {e}"))
        if not d["errors"]:
            console.print("audit passed", style="green")

    emit(data, as_json, render)
    if report.errors and not r.allow_truncation:
        raise typer.Exit(1)


def _adapter_table(rows: list[AdapterRow]):
    from expertune.records import AdapterMetrics

    t = Table("adapter", "current", "base", "dataset", "best step", "val loss", "created")
    for a in rows:
        m = a.metrics or AdapterMetrics()
        t.add_row(a.ref, "●" if a.is_current else "", a.base_model, (a.dataset_hash or "")[:12],
                  str(m.best_step), f"{m.best_eval_loss:.4f}" if m.best_eval_loss else "", a.created_at[:16])
    console.print(t)


@adapters_app.command("list")
def adapters_list(ctx: typer.Context, name: Optional[str] = typer.Argument(None), as_json: bool = JsonOpt) -> None:
    """List registered adapters (with their folders)."""
    from expertune.store.adapters import list_adapters

    emit(list_adapters(workspace(ctx), name), as_json, _adapter_table)


@adapters_app.command("show")
def adapters_show(ctx: typer.Context, ref: str, as_json: bool = JsonOpt) -> None:
    """Show one adapter: lineage, metrics, folder. REF is NAME, NAME@VERSION or NAME@current."""
    from expertune.store.adapters import find_adapter

    emit(find_adapter(workspace(ctx), ref), as_json, lambda a: _adapter_table([a]))


@adapters_app.command("promote")
def adapters_promote(ctx: typer.Context, ref: str, as_json: bool = JsonOpt) -> None:
    """Make NAME@VERSION the current adapter of its name."""
    from expertune.store.adapters import promote

    emit(promote(workspace(ctx), ref), as_json, lambda a: console.print(f"{a.ref} is now current"))


@adapters_app.command("rollback")
def adapters_rollback(ctx: typer.Context, name: str, as_json: bool = JsonOpt) -> None:
    """Make current again the version that was current before the last promotion."""
    from expertune.store.adapters import rollback

    emit(rollback(workspace(ctx), name), as_json, lambda a: console.print(f"rolled back: {a.ref} is current"))


@adapters_app.command("merge")
def adapters_merge(ctx: typer.Context, ref: str, out: Path = typer.Option(..., "-o", "--out"), as_json: bool = JsonOpt) -> None:
    """Write a standalone model (base + adapter merged) loadable by plain transformers."""
    from expertune.train.registry import merge

    ws = workspace(ctx)
    with user_path_errors("-o", out):
        merged = merge(ws, ref, out)
    emit(merged, as_json, lambda a: console.print(f"merged {a['ref']} into {a['merged_path']}"))


@adapters_app.command("export")
def adapters_export(ctx: typer.Context, ref: str, out: Path = typer.Option(..., "-o", "--out"),
                    fmt: str = typer.Option("peft", "--format", help="peft (vLLM, TGI), merged (transformers), "
                                            "gguf (llama.cpp, Ollama: GGUF + Modelfile)"),
                    gguf_type: str = typer.Option("f32", "--gguf-type", help="f32 or f16"), as_json: bool = JsonOpt) -> None:
    """Export an adapter for other servers: the PEFT folder, a merged model, or GGUF + Ollama Modelfile."""
    from expertune.serve.export import export_adapter

    ws = workspace(ctx)
    with user_path_errors("-o", out):
        exported = export_adapter(ws, ref, out, fmt, outtype=gguf_type)
    emit(exported, as_json, lambda a: console.print(
        f"exported {a['ref']} ({a['format']}) to {a.get('exported_path') or a.get('merged_path')}"))


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
    app.add_typer(train_app, name="train")
    app.add_typer(adapters_app, name="adapters")
