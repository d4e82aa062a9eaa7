"""What every page shares: the templates (autoescaped), the workspace, the current user.

Templates escape every value (Jinja2 autoescape is on for all of them, whatever the file name), so
user text — answers, topics, reasons, names — is shown as written and never read as HTML.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import anyio
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from expertune.studio.security import csrf_token, current_user
from expertune.workspace import Workspace

HERE = Path(__file__).parent
NAV = [("overview", "/", "Overview"), ("author", "/author", "Author"), ("review", "/review", "Review"), ("checks", "/checks", "Checks"),
       ("train", "/train", "Train"), ("evaluate", "/evaluate", "Evaluate")]

env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined,
                  trim_blocks=True, lstrip_blocks=True)


def workspace(request: Request) -> Workspace:
    return request.app.state.workspace


def user(request: Request) -> str:
    return current_user(request)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    page = env.get_template(template).render(
        request=request, csrf=csrf_token(request), user=current_user(request), nav=NAV,
        active=context.pop("active", ""), flash=context.pop("flash", None), **context)
    return HTMLResponse(page, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    """After a POST, go to a page with GET (so reloading does not repeat the change)."""
    return RedirectResponse(url, status_code=303)


class EventStream(StreamingResponse):
    """Server-Sent Events, one `data:` line per event of a generator, then `event: done`.

    The generator is closed however the response ends. When the browser goes away mid-stream,
    Starlette stops iterating and leaves the generator suspended for the garbage collector, so its
    clean-up (drafting's: cancel the draft being written and store it as cancelled) would run late
    or never while its work went on. Starlette notices the browser leaving once the event it is
    waiting for arrives (its thread call is never abandoned), so the generator is suspended, never
    running, when it is closed here. Closing runs in a worker thread, since that clean-up waits for
    the model to stop and writes to the store, and is shielded, so a server shutting down still runs it."""

    def __init__(self, events: Generator[dict[str, Any], None, None]):
        self.events = events
        super().__init__(self._lines(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    def _lines(self):
        for event in self.events:
            yield f"data: {json.dumps(event)}\n\n"
        yield "event: done\ndata: {}\n\n"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(self.events.close)
