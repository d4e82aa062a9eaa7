"""`expertune serve`: the OpenAI-compatible server (or the vLLM command serving the same adapters)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional

import typer

from expertune.cli.common import console, workspace
from expertune.errors import ConfigError, WorkspaceNotFound


def serve(
    ctx: typer.Context,
    adapters: Optional[list[str]] = typer.Option(None, "--adapter", help="Adapter NAME (follows the registry's current "
                                                 "version) or adapter folder; repeatable."),
    base: Optional[str] = typer.Option(None, "--base", help="Base model (default: the adapters' base, else the builtin)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; anything but loopback needs --api-key-env."),
    port: int = typer.Option(8000, "--port"),
    api_key_env: Optional[str] = typer.Option(None, "--api-key-env", help="Environment variable holding the bearer token."),
    engine: str = typer.Option("local", "--engine", help="local (this process) or vllm (print the vLLM command)."),
    run_it: bool = typer.Option(False, "--exec", help="With --engine vllm: run the command instead of printing it."),
    max_batch: int = typer.Option(32, "--max-batch", help="Rows decoded together."),
    max_queue: int = typer.Option(64, "--max-queue", help="Rows that may wait before requests get 429."),
    max_tokens_limit: int = typer.Option(1024, "--max-tokens-limit", help="Largest max_tokens a request may ask for."),
    request_timeout: float = typer.Option(300.0, "--request-timeout", help="Seconds a request may take in all."),
    log_prompts: bool = typer.Option(False, "--log-prompts", help="Log prompts (off by default: they may be private)."),
) -> None:
    """Serve the base model and adapters over an OpenAI-compatible API (promote/rollback apply live)."""
    from expertune.serve.config import ServeConfig

    adapters = list(adapters or [])
    needs_ws = any(not Path(a).expanduser().is_dir() for a in adapters)
    ws = workspace(ctx) if needs_ws else _workspace_if_any(ctx)
    if engine == "vllm":
        from expertune.serve.config import api_key
        from expertune.serve.vllm import shell_line, vllm_command

        api_key(ServeConfig(host=host, port=port, api_key_env=api_key_env))  # the same bind policy
        cmd = vllm_command(adapters, ws, base=base, host=host, port=port, api_key_env=api_key_env)
        if not run_it:
            typer.echo(shell_line(cmd))
            return
        if shutil.which("vllm") is None:
            raise ConfigError("vllm is not installed here; `pip install vllm` on a machine with a GPU, or run the "
                              "printed command there (drop --exec)")
        if api_key_env:
            os.environ["VLLM_API_KEY"] = os.environ[api_key_env]
            cmd = cmd[2:]  # the env prefix is for the printed line
        os.execvp(cmd[0], cmd)
    if engine != "local":
        raise ConfigError(f"--engine {engine}: expected local or vllm")
    from expertune.serve.server import Server

    config = ServeConfig(host=host, port=port, api_key_env=api_key_env, max_batch=max_batch, max_queue=max_queue,
                         max_tokens_limit=max_tokens_limit, request_timeout=request_timeout, log_prompts=log_prompts)
    server = Server(config, base=base, adapters=adapters, ws=ws).bind()
    console.print(f"loading {server.base} and {len(adapters)} adapter(s)...", highlight=False, markup=False)
    server.load()
    console.print(f"serving on http://{host}:{port}/v1 - models: {', '.join(server.pool.model_ids())}",
                  highlight=False, markup=False)
    server.run()


def _workspace_if_any(ctx: typer.Context):
    """The workspace when there is one (its base model is the default base); serving adapter
    folders needs none."""
    try:
        return workspace(ctx)
    except WorkspaceNotFound:
        return None


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
