"""What every page shares: the templates (autoescaped), the workspace, the current user.

Templates escape every value (Jinja2 autoescape is on for all of them, whatever the file name), so
user text — answers, topics, reasons, names — is shown as written and never read as HTML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

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
