"""Run the studio: check the bind address, start uvicorn, open the browser."""

from __future__ import annotations

import threading
import webbrowser

import uvicorn

from expertune.listen import listening_socket
from expertune.studio.app import create_app
from expertune.studio.security import check_bind
from expertune.workspace import Workspace


def serve(ws: Workspace, *, host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
          open_browser: bool = True) -> None:
    check_bind(host, token)
    ws.engine  # a missing or unreadable store fails here, before the server starts
    sock = listening_socket(host, port)
    app = create_app(ws, token=token)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
