"""`expertune studio`: serve the web studio for this workspace (parsing only; see expertune.studio)."""

from __future__ import annotations

import os
from typing import Optional

import typer

from expertune.cli.common import workspace


def studio(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to bind; anything but loopback needs --token."),
    port: int = typer.Option(8765, help="Port to serve on."),
    token: Optional[str] = typer.Option(None, help="Require this token to log in (or set EXPERTUNE_STUDIO_TOKEN).",
                                        envvar="EXPERTUNE_STUDIO_TOKEN"),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a browser window."),
) -> None:
    """Serve the studio (http://127.0.0.1:PORT) and open it in the browser."""
    from expertune.studio import serve

    ws = workspace(ctx)
    typer.echo(f"expertune studio for {ws.root} on http://{host}:{port}/  (Ctrl-C stops it)")
    serve(ws, host=host, port=port, token=token or None, open_browser=not no_browser and "CI" not in os.environ)


def register(app: typer.Typer) -> None:
    app.command("studio")(studio)
