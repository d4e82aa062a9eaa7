"""A small workspace and a TestClient logged in with a CSRF cookie, for the studio tests."""

from __future__ import annotations

from fastapi.testclient import TestClient

from conftest import chat_record, write_jsonl
from expertune.data.ingest import import_file
from expertune.studio import create_app

MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>[bold]{{ 7*7 }}'


def fill(ws, n_groups: int = 3, per_group: int = 2, *, topic: str = "Contracts", extra: str = ""):
    rows = [chat_record(f"Question {g}{extra}", f"Answer {k} to {g}{extra}", system=f"Be brief.{extra}", topic=topic)
            for g in range(n_groups) for k in range(per_group)]
    report = import_file(ws, write_jsonl(ws.root / "in.jsonl", rows))
    assert report.committed
    return ws


def client(ws, *, user: str = "alice", token: str | None = None) -> TestClient:
    c = TestClient(create_app(ws, token=token, default_user="studio-owner"))
    if token:
        c.get("/login")
        c.post("/login", data={"token": token, "csrf": c.cookies.get("expertune_csrf")})
    else:
        c.get("/me")
    c.cookies.set("expertune_user", user)
    return c


def post(c: TestClient, url: str, data: dict | list | None = None, **kw):
    """POST a form with this browser's CSRF token."""
    items = list(data.items()) if isinstance(data, dict) else list(data or [])
    return c.post(url, content=_encode(items + [("csrf", c.cookies.get("expertune_csrf"))]),
               headers={"content-type": "application/x-www-form-urlencoded"}, **kw)


def _encode(items):
    from urllib.parse import urlencode

    return urlencode([(k, str(v)) for k, v in items])
